import Foundation

/// Attempt ids: UTC second plus 6 random hex digits. Sortable, short enough to type during an
/// incident, and unique across machines for practical purposes. Also the lock holder id.
public enum AttemptID {
    public static func make(now: Date = Date()) -> String {
        let f = DateFormatter()
        f.locale = Locale(identifier: "en_US_POSIX")
        f.timeZone = TimeZone(identifier: "UTC")
        f.dateFormat = "yyyyMMdd'T'HHmmss'Z'"
        return f.string(from: now) + "-" + String(format: "%06x", UInt32.random(in: 0..<(1 << 24)))
    }
}
