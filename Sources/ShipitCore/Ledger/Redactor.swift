import FoundationEssentials

/// Hides secrets before anything is printed or stored: the values of secret-looking environment
/// variables wherever they appear, passwords in URLs, `password=…`-style pairs, bearer tokens,
/// well-known token formats and private-key blocks.
public struct Redactor: Sendable {
    public static let mask = "***"
    /// Literal secret values (from the environment), longest first so overlaps are fully hidden.
    let literals: [String]

    /// Words that mark an environment variable (or config key) as secret, matched in its uppercased
    /// name (no regular expression: every run checks every environment variable).
    static let secretWords = ["PASS", "SECRET", "TOKEN", "PRIVATE", "CREDENTIAL", "APIKEY", "API_KEY", "ACCESSKEY", "ACCESS_KEY", "AUTH", "DATABASE_URL", "DSN"]

    /// Each pattern with what replaces a match: `keep` is group 1 kept in front of the mask.
    /// Every match starts at one of the pattern's `triggers` (lowercase), or, for a URL, at the
    /// scheme before `://`: the regular expression is only tried there, anchored (Swift's Regex
    /// costs about a microsecond per byte it scans, and a fleet's logs are many megabytes).
    struct Pattern: @unchecked Sendable {
        let regex: Regex<AnyRegexOutput>
        let keep: Bool
        let replacement: String
        let triggers: [[UInt8]]
        /// The match starts at the URL scheme that ends where the trigger (`://`) starts.
        let schemeBefore: Bool
        /// No letter, digit or `_` right before the match (a `\b`).
        let wordStart: Bool

        init(_ pattern: String, ignoreCase: Bool = false, keep: Bool, _ replacement: String, triggers: [String],
             schemeBefore: Bool = false, wordStart: Bool = false) {
            let r = try! Regex(pattern)
            regex = ignoreCase ? r.ignoresCase() : r
            self.keep = keep
            self.replacement = replacement
            self.triggers = triggers.map { Array($0.utf8) }
            self.schemeBefore = schemeBefore
            self.wordStart = wordStart
        }

        /// Byte offsets where a match may start, in order.
        func starts(_ lower: [UInt8]) -> [Int] {
            var out: [Int] = []
            for i in lower.indices {
                for t in triggers where lower.count - i >= t.count && lower[i] == t[0] && lower[i..<(i + t.count)].elementsEqual(t) {
                    if schemeBefore {
                        var j = i
                        while j > 0, Redactor.isSchemeByte(lower[j - 1]) { j -= 1 }
                        if let letter = (j..<i).first(where: { lower[$0] >= 97 && lower[$0] <= 122 }) { out.append(letter) }
                    } else if !wordStart || i == 0 || !Redactor.isWordByte(lower[i - 1]) {
                        out.append(i)
                    }
                    break
                }
            }
            return out
        }

        /// `line` with every match replaced.
        func apply(to line: String, lower: [UInt8]) -> String {
            let starts = starts(lower)
            guard !starts.isEmpty else { return line }
            let utf8 = line.utf8
            var out = ""
            var copied = line.startIndex
            for offset in starts {
                let start = utf8.index(utf8.startIndex, offsetBy: offset)
                guard start >= copied, let m = line[start...].prefixMatch(of: regex) else { continue }
                out += line[copied..<start]
                out += (keep ? m.output[1].substring.map(String.init) ?? "" : "") + replacement
                copied = m.range.upperBound
            }
            return out + line[copied...]
        }
    }

    static func isSchemeByte(_ b: UInt8) -> Bool { (97...122).contains(b) || (48...57).contains(b) || b == 43 || b == 46 || b == 45 }
    static func isWordByte(_ b: UInt8) -> Bool { (97...122).contains(b) || (65...90).contains(b) || (48...57).contains(b) || b == 95 }

    static let patterns: [Pattern] = [
        // scheme://user:password@host
        Pattern(#"([a-zA-Z][a-zA-Z0-9+.-]*://[^:/@\s]*:)[^@\s]+@"#, keep: true, "\(mask)@", triggers: ["://"], schemeBefore: true),
        // password=…, token: …, "secret": "…"
        Pattern(#"((?:password|passwd|pwd|secret|token|api[_-]?key|access[_-]?key)["']?\s*[=:]\s*["']?)[^\s"'&,;]+"#, ignoreCase: true, keep: true, mask,
                triggers: ["pass", "pwd", "secret", "token", "api", "access"]),
        Pattern(#"(Bearer|Basic)\s+[A-Za-z0-9._~+/=-]{8,}"#, ignoreCase: true, keep: true, " \(mask)", triggers: ["bearer", "basic"]),
        Pattern(#"(gh[pousr]_[A-Za-z0-9]{20,}|glpat-[A-Za-z0-9_-]{20,}|AKIA[0-9A-Z]{16}|xox[abprs]-[A-Za-z0-9-]{10,})"#, keep: false, mask,
                triggers: ["ghp_", "gho_", "ghu_", "ghs_", "ghr_", "glpat-", "akia", "xoxa-", "xoxb-", "xoxp-", "xoxr-", "xoxs-"], wordStart: true),
    ]

    nonisolated(unsafe) static let privateKey = try! Regex(#"-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]*?(-----END [A-Z ]*PRIVATE KEY-----|$)"#)

    public init(environment: [String: String] = ProcessInfo.processInfo.environment, extraSecrets: [String] = []) {
        let fromEnv = environment.filter { Self.isSecretName($0.key) }.map(\.value)
        literals = Array(Set((fromEnv + extraSecrets).filter { $0.count >= 6 })).sorted { $0.count > $1.count }
    }

    public static func isSecretName(_ name: String) -> Bool {
        let upper = name.uppercased()
        return secretWords.contains { upper.contains($0) }
    }

    static func lowercasedBytes(_ text: some StringProtocol) -> [UInt8] {
        var bytes = Array(text.utf8)
        for i in bytes.indices where bytes[i] >= 65 && bytes[i] <= 90 { bytes[i] += 32 }
        return bytes
    }

    public func redact(_ text: String) -> String {
        var s = text
        for l in literals where s.contains(l) { s = s.replacing(l, with: Self.mask) }
        // A private key block spans lines: the one pattern run on the whole text, when it can match.
        if s.contains("PRIVATE KEY-----") { s = s.replacing(Self.privateKey) { _ in "\(Self.mask) private key \(Self.mask)" } }
        // The others match within a line, starting at a trigger: most text has none.
        let whole = Self.lowercasedBytes(s)
        guard Self.patterns.contains(where: { !$0.starts(whole).isEmpty }) else { return s }
        var lines = s.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        for i in lines.indices {
            var lower = Self.lowercasedBytes(lines[i])
            for p in Self.patterns {
                let next = p.apply(to: lines[i], lower: lower)
                if next != lines[i] { lines[i] = next; lower = Self.lowercasedBytes(next) }
            }
        }
        return lines.joined(separator: "\n")
    }

    public func redact(_ text: String?) -> String? { text.map { redact($0) } }

    /// A config map with secret-named keys masked and every value scrubbed.
    public func redact(settings: [String: String]) -> [String: String] {
        var out: [String: String] = [:]
        for (k, v) in settings {
            let leaf = k.split(separator: ".").last.map(String.init) ?? k
            out[k] = Self.isSecretName(leaf) ? Self.mask : redact(v)
        }
        return out
    }
}
