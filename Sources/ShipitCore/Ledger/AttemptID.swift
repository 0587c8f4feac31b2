import FoundationEssentials
import ShipitSupport

/// Attempt ids: UTC second plus 6 random hex digits. Sortable, short enough to type during an
/// incident, and unique across machines for practical purposes. Also the lock holder id.
public enum AttemptID {
    public static func make(now: Date = Date()) -> String {
        // gmtime, not a DateFormatter: a formatter loads ICU's data (megabytes of resident memory).
        UTCTime.compact(now) + "-" + String(cFormat: "%06x", UInt32.random(in: 0..<(1 << 24)))
    }
}
