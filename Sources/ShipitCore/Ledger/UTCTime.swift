import Foundation

/// UTC timestamps as printed and parsed everywhere (ISO 8601, `Z`), and the time windows of
/// `changes`: `--since 2h` (s, m, h, d, w) or absolute `--from/--to` times.
public enum UTCTime {
    private static func formatter(_ options: ISO8601DateFormatter.Options) -> ISO8601DateFormatter {
        let f = ISO8601DateFormatter()
        f.formatOptions = options
        f.timeZone = TimeZone(identifier: "UTC")
        return f
    }

    /// `2026-11-28T05:30:00.123Z`
    public static func iso(_ date: Date) -> String {
        let (tm, ms) = parts(date)
        return String(format: "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ms)
    }

    /// `20261128T053000Z` (`milliseconds`: `20261128T053000.123Z`): ids that sort by time.
    public static func compact(_ date: Date, milliseconds: Bool = false) -> String {
        let (tm, ms) = parts(date)
        return String(format: "%04d%02d%02dT%02d%02d%02d", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec)
            + (milliseconds ? String(format: ".%03d", ms) : "") + "Z"
    }

    /// `05:30:00Z`, the progress lines' clock.
    public static func clock(_ date: Date) -> String {
        let (tm, _) = parts(date)
        return String(format: "%02d:%02d:%02dZ", tm.tm_hour, tm.tm_min, tm.tm_sec)
    }

    /// `2026-11-28 05:30:00Z`, for people.
    public static func short(_ date: Date) -> String {
        let (tm, _) = parts(date)
        return String(format: "%04d-%02d-%02d %02d:%02d:%02dZ", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec)
    }

    /// Calendar fields in UTC (gmtime_r: thread-safe and far cheaper than a formatter per call,
    /// which matters when `changes` prints thousands of lines).
    private static func parts(_ date: Date) -> (tm, Int32) {
        let t = date.timeIntervalSince1970
        var secs = time_t(t.rounded(.down))
        var ms = Int32(((t - Double(secs)) * 1000).rounded())
        if ms == 1000 { secs += 1; ms = 0 }
        var result = tm()
        gmtime_r(&secs, &result)
        return (result, ms)
    }

    /// Accepts `2026-11-28T05:30:00Z`, with fractional seconds, with an offset, `2026-11-28 05:30`,
    /// `2026-11-28T05:30`, or a date alone (midnight UTC). Times without a zone are UTC.
    public static func parse(_ text: String) -> Date? {
        let t = text.trimmingCharacters(in: .whitespaces)
        for opts: ISO8601DateFormatter.Options in [[.withInternetDateTime, .withFractionalSeconds], [.withInternetDateTime]] {
            if let d = formatter(opts).date(from: t) { return d }
        }
        let f = DateFormatter()
        f.locale = Locale(identifier: "en_US_POSIX")
        f.timeZone = TimeZone(identifier: "UTC")
        for format in ["yyyy-MM-dd'T'HH:mm:ss", "yyyy-MM-dd HH:mm:ss", "yyyy-MM-dd'T'HH:mm", "yyyy-MM-dd HH:mm", "yyyy-MM-dd"] {
            f.dateFormat = format
            if let d = f.date(from: t.hasSuffix("Z") ? String(t.dropLast()) : t) { return d }
        }
        return nil
    }

    /// `90s`, `30m`, `2h`, `7d`, `2w` → seconds.
    public static func duration(_ text: String) -> TimeInterval? {
        guard let unit = text.last, let n = Double(text.dropLast()), n >= 0 else { return nil }
        switch unit {
        case "s": return n
        case "m": return n * 60
        case "h": return n * 3600
        case "d": return n * 86400
        case "w": return n * 7 * 86400
        default: return nil
        }
    }

    /// The window of a `changes`-style command, validated; errors name the flag.
    public static func window(since: String?, from: String?, to: String?, now: Date = Date()) throws -> (Date?, Date?) {
        if since != nil && from != nil { throw ShipitError.input("--since and --from: give one or the other") }
        var start: Date?
        var end: Date?
        if let since {
            guard let d = duration(since) else { throw ShipitError.input("--since: '\(since)' is not a duration like 30m, 2h, 7d") }
            start = now.addingTimeInterval(-d)
        }
        if let from {
            guard let d = parse(from) else { throw ShipitError.input("--from: '\(from)' is not a UTC time like 2026-11-28T05:30:00Z") }
            start = d
        }
        if let to {
            guard let d = parse(to) else { throw ShipitError.input("--to: '\(to)' is not a UTC time like 2026-11-28T06:00:00Z") }
            end = d
        }
        if let s = start, let e = end, e <= s { throw ShipitError.input("--to: must be after the start of the window") }
        return (start, end)
    }
}
