import Foundation

/// The small JSON columns of the ledger (lists and string maps). Empty values skip the parser:
/// most rows have them, and `changes` reads thousands of rows.
enum LedgerJSON {
    static func encode(_ list: [String]) -> String {
        list.isEmpty ? "[]" : string(list)
    }

    static func encode(_ dict: [String: String]) -> String {
        dict.isEmpty ? "{}" : string(dict)
    }

    private static func string(_ object: Any) -> String {
        let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])) ?? Data()
        return String(decoding: data, as: UTF8.self)
    }

    static func list(_ text: String?) -> [String] {
        guard let text, text != "[]", let data = text.data(using: .utf8) else { return [] }
        return (try? JSONSerialization.jsonObject(with: data)) as? [String] ?? []
    }

    static func dictionary(_ text: String?) -> [String: String] {
        guard let text, text != "{}", let data = text.data(using: .utf8) else { return [:] }
        return (try? JSONSerialization.jsonObject(with: data)) as? [String: String] ?? [:]
    }
}
