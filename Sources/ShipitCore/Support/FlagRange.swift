import FoundationEssentials

/// Range checks for numbers given on the command line, the same bounds as the config's. The parser
/// accepts `inf`, `nan`, `1e300` and any Int64 for a number flag; turned into milliseconds, a
/// deadline or a byte count later, such a value traps the process (a crash, not an error). Each
/// check throws a usage error (exit 2) naming the flag, before anything is touched.
public enum FlagRange {
    /// A number of seconds (or any real quantity): finite and within `range`.
    public static func check(_ value: Double?, flag: String, _ range: ClosedRange<Double>, unit: String = "seconds")
        throws
    {
        guard let value else { return }
        guard value.isFinite, range.contains(value) else {
            throw ShipitError.input(
                "\(flag): \(describe(value)) is not \(unit) from \(format(range.lowerBound)) to \(format(range.upperBound))"
            )
        }
    }

    /// Seconds that must be greater than 0 (a timeout), at most `max`.
    public static func positive(_ value: Double?, flag: String, max: Double) throws {
        guard let value else { return }
        guard value.isFinite, value > 0, value <= max else {
            throw ShipitError.input(
                "\(flag): \(describe(value)) is not seconds greater than 0 and at most \(format(max))")
        }
    }

    /// A whole number within `range`.
    public static func check(_ value: Int?, flag: String, _ range: ClosedRange<Int>, unit: String = "") throws {
        guard let value else { return }
        guard range.contains(value) else {
            throw ShipitError.input(
                "\(flag): \(value) is out of range \(range.lowerBound)...\(range.upperBound)\(unit.isEmpty ? "" : " " + unit)"
            )
        }
    }

    static func describe(_ v: Double) -> String {
        v.isNaN ? "nan" : v.isInfinite ? (v < 0 ? "-inf" : "inf") : format(v)
    }

    static func format(_ v: Double) -> String {
        v == v.rounded() && abs(v) < 1e15 ? String(Int64(v)) : String(v)
    }
}
