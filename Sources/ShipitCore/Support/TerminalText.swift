import FoundationEssentials

/// Makes text safe to write to a terminal. Logs, exec output, hook output, error lines and health
/// bodies come from hosts and services shipit does not control: written raw, `ESC ] 0;… BEL`
/// retitles the terminal, `ESC [2J` clears it, and `\r` or `ESC [1A` overwrite lines of the summary
/// and the live status, so one compromised host could forge what an operator reads about the
/// others. Every control character is shown instead of obeyed: C0 (except tab and, between lines,
/// newline), DEL, C1 (U+0080–U+009F, which some terminals take as ESC sequences), and the Unicode
/// formatting characters that reorder text (bidi marks, overrides and isolates such as U+202E) or
/// break a line where a terminal would not show it (U+2028, U+2029). Tabs stay tabs.
public enum TerminalText {
    /// `text` with every control character written visibly: `\x1b`, `\r`, `\x7f`, `\u{202e}`.
    /// `newlines`: keep `\n` (text that is several lines of shipit's own layout); a single
    /// remote line gets false, so it cannot start a line that looks like shipit's.
    public static func visible(_ text: String, newlines: Bool = true) -> String {
        guard text.unicodeScalars.contains(where: { needsEscape($0, newlines: newlines) }) else { return text }
        var out = String.UnicodeScalarView()
        for s in text.unicodeScalars {
            guard needsEscape(s, newlines: newlines) else {
                out.append(s)
                continue
            }
            out.append(contentsOf: escaped(s).unicodeScalars)
        }
        return String(out)
    }

    /// A line of JSON made safe for a terminal, decoding to exactly the same value: the encoder
    /// already writes C0 controls as `\u001b`-style escapes; DEL, C1 and the bidi formatting
    /// characters, which JSON allows raw inside strings, are written as `\uXXXX` too. They can
    /// only occur inside strings, where any character may be escaped.
    public static func jsonSafe(_ json: String) -> String {
        guard json.unicodeScalars.contains(where: { needsEscape($0, newlines: true) }) else { return json }
        var out = String.UnicodeScalarView()
        for s in json.unicodeScalars {
            guard needsEscape(s, newlines: true) else {
                out.append(s)
                continue
            }
            out.append(contentsOf: jsonEscape(s.value).unicodeScalars)
        }
        return String(out)
    }

    /// True for the scalars a terminal would act on or that change how the text around them reads.
    public static func needsEscape(_ s: Unicode.Scalar, newlines: Bool = false) -> Bool {
        switch s.value {
        case 0x09: return false
        case 0x0A: return !newlines
        case 0x00...0x1F, 0x7F...0x9F: return true
        // Bidi: ALM, LRM, RLM, embeddings/overrides (LRE…RLO), isolates (LRI…PDI); line and
        // paragraph separators (a terminal may break the line there).
        case 0x061C, 0x200E, 0x200F, 0x202A...0x202E, 0x2066...0x2069, 0x2028, 0x2029: return true
        default: return false
        }
    }

    static func escaped(_ s: Unicode.Scalar) -> String {
        switch s.value {
        case 0x0A: return "\\n"
        case 0x0D: return "\\r"
        case 0x00...0xFF: return "\\x" + hex(s.value, width: 2)
        default: return "\\u{" + hex(s.value, width: 4) + "}"
        }
    }

    static func jsonEscape(_ v: UInt32) -> String { "\\u" + hex(v, width: 4) }

    static func hex(_ v: UInt32, width: Int) -> String {
        let digits = String(v, radix: 16)
        return String(repeating: "0", count: max(0, width - digits.count)) + digits
    }

    /// The longest head of `text` that fits in `columns` terminal columns.
    public static func fit(_ text: String, columns: Int) -> String {
        var used = 0
        var out = ""
        for c in text {
            let w = c.unicodeScalars.first.map(wide) == true ? 2 : 1
            guard used + w <= columns else { break }
            used += w
            out.append(c)
        }
        return out
    }

    /// East Asian wide and fullwidth characters, and emoji: two columns on a terminal.
    static func wide(_ s: Unicode.Scalar) -> Bool {
        switch s.value {
        case 0x1100...0x115F, 0x2E80...0x303E, 0x3041...0x33FF, 0x3400...0x4DBF, 0x4E00...0x9FFF, 0xA000...0xA4CF,
            0xAC00...0xD7A3, 0xF900...0xFAFF, 0xFE30...0xFE4F, 0xFF00...0xFF60, 0xFFE0...0xFFE6, 0x1F300...0x1F64F,
            0x1F680...0x1F6FF,
            0x1F900...0x1F9FF, 0x20000...0x3FFFD:
            return true
        default: return false
        }
    }
}
