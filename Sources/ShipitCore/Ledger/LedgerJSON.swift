import FoundationEssentials
import ShipitSupport

/// The small JSON columns of the ledger (lists and string maps). Empty values skip the parser:
/// most rows have them, and `changes` reads thousands of rows.
enum LedgerJSON {
    /// Written by hand, keys in code-point order: keys in code-point order, the same bytes
    /// for the same values (the config hash and diffs depend on it).
    static func encode(_ list: [String]) -> String {
        list.isEmpty ? "[]" : "[" + list.map(quoted).joined(separator: ",") + "]"
    }

    static func encode(_ dict: [String: String]) -> String {
        dict.isEmpty
            ? "{}" : "{" + dict.keys.sorted().map { quoted($0) + ":" + quoted(dict[$0]!) }.joined(separator: ",") + "}"
    }

    static func quoted(_ s: String) -> String {
        var out = "\""
        for u in s.unicodeScalars {
            switch u {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case _ where u.value < 0x20: out += String(cFormat: "\\u%04x", u.value)
            default: out.unicodeScalars.append(u)
            }
        }
        return out + "\""
    }

    /// A structured event's message (a rollout's plan, a request step's measurements): keys
    /// sorted, so the same value gives the same text.
    static func encode<T: Encodable>(_ value: T) -> String {
        let e = JSONEncoder()
        e.outputFormatting = [.sortedKeys]
        return (try? String(decoding: e.encode(value), as: UTF8.self)) ?? "{}"
    }

    static func decode<T: Decodable>(_ type: T.Type, _ text: String) -> T? {
        try? JSONDecoder().decode(type, from: Data(text.utf8))
    }

    static func list(_ text: String?) -> [String] {
        guard let text, text != "[]", let data = text.data(using: .utf8) else { return [] }
        return (try? JSONDecoder().decode([String].self, from: data)) ?? []
    }

    static func dictionary(_ text: String?) -> [String: String] {
        guard let text, text != "{}", let data = text.data(using: .utf8) else { return [:] }
        return (try? JSONDecoder().decode([String: String].self, from: data)) ?? [:]
    }
}
