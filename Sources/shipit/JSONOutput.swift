import FoundationEssentials
import ShipitCore

/// One JSON document on stdout (`--json` of the read commands): sorted keys, ISO 8601 UTC dates.
enum JSONOutput {
    static func print<T: Encodable>(_ value: T) {
        let e = JSONEncoder()
        e.outputFormatting = [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes]
        e.dateEncodingStrategy = .iso8601
        if let data = try? e.encode(value) { Console.shared.json(String(decoding: data, as: UTF8.self)) }
    }

    /// One JSON object per line (NDJSON), for streams a tool reads as they come.
    static func printLine<T: Encodable>(_ value: T) {
        if let data = try? JSONLine.encoder.encode(value) { Console.shared.json(String(decoding: data, as: UTF8.self)) }
    }
}
