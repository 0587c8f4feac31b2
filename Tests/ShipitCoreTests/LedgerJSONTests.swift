import Foundation
import Testing

@testable import ShipitCore

@Suite("ledger JSON columns: written by hand, read by JSONDecoder")
struct LedgerJSONTests {
    @Test func trickyStringsRoundTrip() throws {
        let values = [
            "plain", "quote \" and \\ backslash", "new\nline\ttab\rcr", "control \u{01}\u{1f}", "ünïcödé ✓ 🚀", "",
            "/slashes/",
        ]
        let list = LedgerJSON.encode(values)
        #expect(LedgerJSON.list(list) == values)
        let dict = Dictionary(
            uniqueKeysWithValues: values.enumerated().map { ("k\($0.offset) \($0.element)", $0.element) })
        let text = LedgerJSON.encode(dict)
        #expect(LedgerJSON.dictionary(text) == dict)
        // Keys in code-point order: the same map always gives the same text (the config hash relies on stable text).
        #expect(LedgerJSON.encode(["b": "2", "B": "1", "a": "3"]) == #"{"B":"1","a":"3","b":"2"}"#)
        #expect(LedgerJSON.encode([String]()) == "[]" && LedgerJSON.encode([String: String]()) == "{}")
    }
}
