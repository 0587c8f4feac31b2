import FoundationEssentials
import Glibc
import ShipitSupport

/// UTC timestamps as printed and parsed everywhere (ISO 8601, `Z`), and the time windows of
/// `changes`: `--since 2h` (s, m, h, d, w) or absolute `--from/--to` times.
public enum UTCTime {
    /// `2026-11-28T05:30:00.123Z`
    public static func iso(_ date: Date) -> String {
        let (tm, ms) = parts(date)
        return String(
            cFormat: "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
            tm.tm_min, tm.tm_sec, ms)
    }

    /// `20261128T053000Z` (`milliseconds`: `20261128T053000.123Z`): ids that sort by time.
    public static func compact(_ date: Date, milliseconds: Bool = false) -> String {
        let (tm, ms) = parts(date)
        return String(
            cFormat: "%04d%02d%02dT%02d%02d%02d", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
            tm.tm_sec)
            + (milliseconds ? String(cFormat: ".%03d", ms) : "") + "Z"
    }

    /// `05:30:00Z`, the progress lines' clock.
    public static func clock(_ date: Date) -> String {
        let (tm, _) = parts(date)
        return String(cFormat: "%02d:%02d:%02dZ", tm.tm_hour, tm.tm_min, tm.tm_sec)
    }

    /// `2026-11-28 05:30:00Z`, for people.
    public static func short(_ date: Date) -> String {
        let (tm, _) = parts(date)
        return String(
            cFormat: "%04d-%02d-%02d %02d:%02d:%02dZ", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
            tm.tm_min, tm.tm_sec)
    }

    /// Calendar fields in UTC (gmtime_r: thread-safe and far cheaper than a formatter per call,
    /// which matters when `changes` prints thousands of lines).
    private static func parts(_ date: Date) -> (tm, Int32) {
        let t = date.timeIntervalSince1970
        var secs = time_t(t.rounded(.down))
        var ms = Int32(((t - Double(secs)) * 1000).rounded())
        if ms == 1000 {
            secs += 1
            ms = 0
        }
        var result = tm()
        gmtime_r(&secs, &result)
        return (result, ms)
    }

    /// Accepts `2026-11-28T05:30:00Z`, with fractional seconds, with an offset, `2026-11-28 05:30`,
    /// `2026-11-28T05:30`, or a date alone (midnight UTC). Times without a zone are UTC.
    public static func parse(_ text: String) -> Date? {
        var scan = Scan(Array(text.trimmed().utf8))
        guard let year = scan.digits(4), scan.take("-"), let month = scan.digits(2), scan.take("-"),
            let day = scan.digits(2),
            (1...12).contains(month), (1...31).contains(day)
        else { return nil }
        var hour = 0
        var minute = 0
        var second = 0
        var fraction = 0.0
        var offset = 0
        if scan.take("T") || scan.take(" ") {
            guard let h = scan.digits(2), scan.take(":"), let m = scan.digits(2), h < 24, m < 60 else { return nil }
            hour = h
            minute = m
            if scan.take(":") {
                guard let s = scan.digits(2), s < 61 else { return nil }
                second = s
                if scan.take(".") {
                    var scale = 0.1
                    var any = false
                    while let d = scan.digit() {
                        fraction += Double(d) * scale
                        scale /= 10
                        any = true
                    }
                    guard any else { return nil }
                }
            }
            if scan.take("Z") {
            } else if let sign = scan.sign() {
                guard let oh = scan.digits(2) else { return nil }
                _ = scan.take(":")
                guard let om = scan.digits(2), oh < 24, om < 60 else { return nil }
                offset = sign * (oh * 3600 + om * 60)
            }
        }
        guard scan.atEnd else { return nil }
        var fields = tm()
        fields.tm_year = Int32(year - 1900)
        fields.tm_mon = Int32(month - 1)
        fields.tm_mday = Int32(day)
        fields.tm_hour = Int32(hour)
        fields.tm_min = Int32(minute)
        fields.tm_sec = Int32(second)
        let seconds = timegm(&fields)
        // timegm normalises Feb 30 to Mar 2: such a date is refused, not moved.
        guard fields.tm_mday == Int32(day), fields.tm_mon == Int32(month - 1) else { return nil }
        return Date(timeIntervalSince1970: Double(seconds) - Double(offset) + fraction)
    }

    /// A cursor over ASCII bytes for `parse`.
    private struct Scan {
        let bytes: [UInt8]
        var i = 0
        init(_ bytes: [UInt8]) { self.bytes = bytes }
        var atEnd: Bool { i == bytes.count }
        mutating func take(_ c: Character) -> Bool {
            guard i < bytes.count, bytes[i] == c.asciiValue! else { return false }
            i += 1
            return true
        }
        mutating func digit() -> Int? {
            guard i < bytes.count, (48...57).contains(bytes[i]) else { return nil }
            i += 1
            return Int(bytes[i - 1] - 48)
        }
        mutating func digits(_ n: Int) -> Int? {
            var v = 0
            for _ in 0..<n {
                guard let d = digit() else { return nil }
                v = v * 10 + d
            }
            return v
        }
        mutating func sign() -> Int? {
            if take("+") { return 1 }
            if take("-") { return -1 }
            return nil
        }
    }

    /// The longest duration a flag takes: 10 years. A longer one (`1e300s`, `infd`) would turn
    /// into a date before year 1 or an integer that traps.
    public static let maxDuration: TimeInterval = 3650 * 86400

    /// `90s`, `30m`, `2h`, `7d`, `2w` → seconds; nil for anything else, negative, not finite
    /// (`inf`, `nan`) or longer than `maxDuration`.
    public static func duration(_ text: String) -> TimeInterval? {
        guard let unit = text.last, let n = Double(text.dropLast()), n.isFinite, n >= 0 else { return nil }
        let seconds: Double
        switch unit {
        case "s": seconds = n
        case "m": seconds = n * 60
        case "h": seconds = n * 3600
        case "d": seconds = n * 86400
        case "w": seconds = n * 7 * 86400
        default: return nil
        }
        return seconds <= maxDuration ? seconds : nil
    }

    /// The window of a `changes`-style command, validated; errors name the flag.
    public static func window(since: String?, from: String?, to: String?, now: Date = Date()) throws -> (Date?, Date?) {
        if since != nil && from != nil { throw ShipitError.input("--since and --from: give one or the other") }
        var start: Date?
        var end: Date?
        if let since {
            guard let d = duration(since) else {
                throw ShipitError.input("--since: '\(since)' is not a duration like 30m, 2h, 7d (at most 3650d)")
            }
            start = now.addingTimeInterval(-d)
        }
        if let from {
            guard let d = parse(from) else {
                throw ShipitError.input("--from: '\(from)' is not a UTC time like 2026-11-28T05:30:00Z")
            }
            start = d
        }
        if let to {
            guard let d = parse(to) else {
                throw ShipitError.input("--to: '\(to)' is not a UTC time like 2026-11-28T06:00:00Z")
            }
            end = d
        }
        if let s = start, let e = end, e <= s { throw ShipitError.input("--to: must be after the start of the window") }
        return (start, end)
    }
}
