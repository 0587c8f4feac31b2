import FoundationEssentials
import ShipitSupport

/// The secret values resolved in this process (`secrets:`), which every `Redactor` masks wherever
/// shipit prints or stores text: the exact value, its URL-encoded form and its form inside a
/// single-quoted shell word. Process-wide, because a value resolved for a run can come back in
/// any text that run handles (a host's output, a hook's, an error), whichever redactor sees it.
public enum SecretValues {
    /// Shorter values are not masked: a two-letter secret would mask every word it occurs in.
    public static let minimumLength = 4

    private static let lock = Lock()
    nonisolated(unsafe) private static var values: [String] = []

    /// Adds `secrets` (their masked forms), longest first so a value inside another is hidden whole.
    public static func register(_ secrets: [String]) {
        var forms: [String] = []
        for s in secrets where s.count >= minimumLength {
            forms.append(s)
            let encoded = percentEncoded(s)
            if encoded != s {
                forms += [encoded, encoded.replacing("%20", with: "+"), percentEncoded(s, lowercase: true)]
            }
            // As JSON text from a host shows it (a container's `inspect`, an app's JSON logs).
            forms += jsonEscaped(s).filter { $0 != s }
            if s.contains("'") {
                forms.append(s.split(separator: "'", omittingEmptySubsequences: false).joined(separator: #"'\''"#))
            }
            // Each line of a multi-line value (a key file) on its own, as output often splits them.
            forms += s.split(separator: "\n").map(String.init).filter { $0.count >= 8 }
        }
        guard !forms.isEmpty else { return }
        lock.withLock {
            values = Array(Set(values + forms)).sorted { $0.count > $1.count }
        }
    }

    /// Every byte but RFC 3986's unreserved characters as `%XX`: how a value sits in a URL.
    static func percentEncoded(_ s: String, lowercase: Bool = false) -> String {
        let hex = Array(lowercase ? "0123456789abcdef" : "0123456789ABCDEF")
        var out = ""
        for b in s.utf8 {
            switch b {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
                UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"),
                UInt8(ascii: "~"):
                out.append(Character(UnicodeScalar(b)))
            default: out += "%" + String([hex[Int(b >> 4)], hex[Int(b & 15)]])
            }
        }
        return out
    }

    /// The forms JSON encoders give a string (without its quotes): quotes, backslashes and
    /// control characters escaped (as shipit's own JSON does); also `/` escaped (PHP); also every
    /// non-ASCII character as `\uXXXX` (Python's default); also `<`, `>`, `&` as `\u003c`… (Go's).
    static func jsonEscaped(_ s: String) -> [String] {
        let plain = String(LedgerJSON.quoted(s).dropFirst().dropLast())
        var ascii = ""
        for u in plain.unicodeScalars {
            if u.value <= 0x7e {
                ascii.unicodeScalars.append(u)
            } else if u.value > 0xffff {
                let v = u.value - 0x10000
                ascii += unicodeEscape(0xd800 + (v >> 10)) + unicodeEscape(0xdc00 + (v & 0x3ff))
            } else {
                ascii += unicodeEscape(u.value)
            }
        }
        let html = plain.replacing("<", with: "\\u003c").replacing(">", with: "\\u003e").replacing("&", with: "\\u0026")
        return [plain, plain.replacing("/", with: "\\/"), ascii, html]
    }

    private static func unicodeEscape(_ v: UInt32) -> String {
        let hex = Array("0123456789abcdef")
        return "\\u" + String((0..<4).reversed().map { hex[Int((v >> (UInt32($0) * 4)) & 15)] })
    }

    /// What is registered now, longest first.
    static var current: [String] { lock.withLock { values } }
}
