import Foundation
import ShipitCore
import Testing

@Suite("remote text is shown, never obeyed, by the terminal")
struct TerminalTextTests {
    /// Every scalar a terminal acts on: all of C0 but tab, DEL, all of C1, and the bidi and
    /// line-separator formatting characters.
    static let controls: [Unicode.Scalar] =
        (Array(0x00...0x08) + Array(0x0A...0x1F) + Array(0x7F...0x9F)
        + [
            0x061C, 0x200E, 0x200F, 0x202A, 0x202B, 0x202C, 0x202D, 0x202E, 0x2066, 0x2067, 0x2068, 0x2069, 0x2028,
            0x2029,
        ])
        .map { Unicode.Scalar(UInt32($0))! }

    @Test func theAttacksOfTheReviewAreShownVisibly() {
        #expect(TerminalText.visible("\u{1B}]0;pwned\u{07}title") == "\\x1b]0;pwned\\x07title")
        #expect(TerminalText.visible("\u{1B}[2Jclear") == "\\x1b[2Jclear")
        #expect(TerminalText.visible("ok\r  web-2  current=v9") == "ok\\r  web-2  current=v9")
        #expect(TerminalText.visible("\u{1B}[1A\u{1B}[Kforged") == "\\x1b[1A\\x1b[Kforged")
        #expect(TerminalText.visible("\u{9B}31mred") == "\\x9b31mred")
        #expect(TerminalText.visible("abc\u{202E}txt.exe") == "abc\\u{202e}txt.exe")
    }

    @Test(arguments: controls)
    func noControlCharacterSurvives(scalar: Unicode.Scalar) {
        let text = "a" + String(Character(scalar)) + "b"
        let shown = TerminalText.visible(text, newlines: false)
        #expect(!shown.unicodeScalars.contains(scalar), "\(scalar.value)")
        #expect(shown.unicodeScalars.allSatisfy { $0.value >= 0x20 && $0.value < 0x7F }, "\(shown)")
        // Kept as a multi-line layout, only the newline itself passes.
        let layout = TerminalText.visible(text)
        #expect(layout.unicodeScalars.contains(scalar) == (scalar == "\n"))
    }

    @Test func tabsNewlinesAndOrdinaryTextStay() {
        let text = "host\tok  ✓ naïve 日本語 🚀 \\x1b as typed\nnext line"
        #expect(TerminalText.visible(text) == text)
        #expect(TerminalText.visible("a\nb", newlines: false) == "a\\nb")
    }

    /// `--json` decodes to exactly what the host printed, and carries no raw control byte either.
    @Test func jsonStaysExactAndEscaped() throws {
        let hostile = String(String.UnicodeScalarView(Self.controls)) + " \u{1B}]0;t\u{07} end"
        struct Line: Codable, Equatable { let line: String }
        let encoded = String(decoding: try JSONLine.encoder.encode(Line(line: hostile)), as: UTF8.self)
        let safe = TerminalText.jsonSafe(encoded)
        #expect(safe.unicodeScalars.allSatisfy { $0.value >= 0x20 && $0.value < 0x7F }, "\(safe)")
        #expect(safe.contains("\\u001b]0;t\\u0007"))
        #expect(try JSONDecoder().decode(Line.self, from: Data(safe.utf8)) == Line(line: hostile))
        // Pretty-printed documents keep their own newlines.
        let pretty = "{\n  \"a\" : \"\u{202E}\"\n}"
        #expect(TerminalText.jsonSafe(pretty) == "{\n  \"a\" : \"\\u202e\"\n}")
    }

    /// A status line is cut to the terminal's columns, a wide character counting two.
    @Test func textIsCutToTheColumnsItTakes() {
        #expect(TerminalText.fit("abcdef", columns: 4) == "abcd")
        #expect(TerminalText.fit("ab漢字cd", columns: 5) == "ab漢")
        #expect(TerminalText.fit("ab漢字cd", columns: 6) == "ab漢字")
        #expect(TerminalText.fit("🚀ok", columns: 3) == "🚀o")
        #expect(TerminalText.fit("short", columns: 80) == "short")
    }
}
