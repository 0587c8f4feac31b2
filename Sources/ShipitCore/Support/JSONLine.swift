import FoundationEssentials

/// One JSON document per line, as shipit writes them (host history lines, `--json` streams):
/// sorted keys, slashes as they are, times as UTC ISO 8601 by `UTCTime` (Foundation's date
/// formatters load ICU). One encoder serves every line: encoding does not change it.
public enum JSONLine {
    public static let encoder: JSONEncoder = {
        let e = JSONEncoder()
        e.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        e.dateEncodingStrategy = .custom { date, enc in
            var c = enc.singleValueContainer()
            try c.encode(UTCTime.iso(date))
        }
        return e
    }()
}
