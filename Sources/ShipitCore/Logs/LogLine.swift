import FoundationEssentials

/// One line of an app's log from one host, with the time at its start (nil: none, e.g. a stack
/// trace's continuation, which sorts with the line before it).
public struct LogLine: Sendable, Codable, Equatable {
    public var host: String
    public var time: Date?
    public var text: String

    public init(host: String, time: Date?, text: String) {
        self.host = host
        self.time = time
        self.text = text
    }

    /// The time an ISO-8601 line starts with: `2026-11-30T02:40:00Z`, `.123` fractions, a `+01:00`
    /// or `+0100` offset, a space instead of the `T`; no zone means UTC. Parsed by hand: a fleet's
    /// logs are many thousands of lines, and a formatter per line costs far more.
    public static func time(at line: Substring) -> Date? {
        let b = Array(line.utf8.prefix(40))
        func digits(_ at: Int, _ n: Int) -> Int? {
            guard at + n <= b.count else { return nil }
            var v = 0
            for i in at..<(at + n) {
                let c = b[i]
                guard c >= 48 && c <= 57 else { return nil }
                v = v * 10 + Int(c - 48)
            }
            return v
        }
        guard let y = digits(0, 4), b.count >= 19, b[4] == 45, let mo = digits(5, 2), b[7] == 45, let d = digits(8, 2),
            b[10] == 84 || b[10] == 32, let h = digits(11, 2), b[13] == 58, let mi = digits(14, 2), b[16] == 58,
            let s = digits(17, 2),
            (1...12).contains(mo), (1...31).contains(d), h < 24, mi < 60, s < 61
        else { return nil }
        var i = 19
        var fraction = 0.0
        if i < b.count && (b[i] == 46 || b[i] == 44) {
            i += 1
            var scale = 0.1
            while i < b.count, b[i] >= 48 && b[i] <= 57 {
                fraction += Double(b[i] - 48) * scale
                scale /= 10
                i += 1
            }
        }
        var offset = 0
        if i < b.count && (b[i] == 43 || b[i] == 45) {
            let sign = b[i] == 43 ? 1 : -1
            if let oh = digits(i + 1, 2) {
                var om = 0
                if let m = digits(i + 3, 2) {
                    om = m
                } else if i + 3 < b.count, b[i + 3] == 58, let m = digits(i + 4, 2) {
                    om = m
                }
                offset = sign * (oh * 3600 + om * 60)
            }
        }
        // Days from the civil date (Howard Hinnant's algorithm): no calendar object needed.
        let yy = mo <= 2 ? y - 1 : y
        let era = (yy >= 0 ? yy : yy - 399) / 400
        let yoe = yy - era * 400
        let doy = (153 * (mo + (mo > 2 ? -3 : 9)) + 2) / 5 + d - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        let days = era * 146097 + doe - 719468
        let seconds = Double(days * 86400 + h * 3600 + mi * 60 + s - offset) + fraction
        return Date(timeIntervalSince1970: seconds)
    }
}
