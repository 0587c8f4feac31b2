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
    struct Pattern: @unchecked Sendable {
        let regex: Regex<AnyRegexOutput>
        let keep: Bool
        let replacement: String
        init(_ pattern: String, ignoreCase: Bool = false, keep: Bool, _ replacement: String) {
            let r = try! Regex(pattern)
            regex = ignoreCase ? r.ignoresCase() : r
            self.keep = keep
            self.replacement = replacement
        }
    }

    static let patterns: [Pattern] = [
        // scheme://user:password@host
        Pattern(#"([a-zA-Z][a-zA-Z0-9+.-]*://[^:/@\s]*:)[^@\s]+@"#, keep: true, "\(mask)@"),
        // password=…, token: …, "secret": "…"
        Pattern(#"((?:password|passwd|pwd|secret|token|api[_-]?key|access[_-]?key)["']?\s*[=:]\s*["']?)[^\s"'&,;]+"#, ignoreCase: true, keep: true, mask),
        Pattern(#"(Bearer|Basic)\s+[A-Za-z0-9._~+/=-]{8,}"#, ignoreCase: true, keep: true, " \(mask)"),
        Pattern(#"\b(gh[pousr]_[A-Za-z0-9]{20,}|glpat-[A-Za-z0-9_-]{20,}|AKIA[0-9A-Z]{16}|xox[abprs]-[A-Za-z0-9-]{10,})"#, keep: false, mask),
        Pattern(#"-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]*?(-----END [A-Z ]*PRIVATE KEY-----|$)"#, keep: false, "\(mask) private key \(mask)"),
    ]

    public init(environment: [String: String] = ProcessInfo.processInfo.environment, extraSecrets: [String] = []) {
        let fromEnv = environment.filter { Self.isSecretName($0.key) }.map(\.value)
        literals = Array(Set((fromEnv + extraSecrets).filter { $0.count >= 6 })).sorted { $0.count > $1.count }
    }

    public static func isSecretName(_ name: String) -> Bool {
        let upper = name.uppercased()
        return secretWords.contains { upper.contains($0) }
    }

    /// Lowercase fragments every pattern's match contains: text without any of them cannot match,
    /// and skips the regular expressions (a fleet's log lines are many thousands).
    static let triggers: [[UInt8]] = ["pass", "pwd", "secret", "token", "key", "bearer", "basic", "://", "gh", "glpat-", "akia", "xox", "-----begin"]
        .map { Array($0.utf8) }

    static func mayMatch(_ text: String) -> Bool {
        var bytes = Array(text.utf8)
        for i in bytes.indices where bytes[i] >= 65 && bytes[i] <= 90 { bytes[i] += 32 }
        return triggers.contains { t in
            guard bytes.count >= t.count else { return false }
            return (0...(bytes.count - t.count)).contains { i in bytes[i] == t[0] && bytes[i..<(i + t.count)].elementsEqual(t) }
        }
    }

    public func redact(_ text: String) -> String {
        var s = text
        for l in literals where s.contains(l) { s = s.replacing(l, with: Self.mask) }
        guard Self.mayMatch(s) else { return s }
        for p in Self.patterns {
            s = s.replacing(p.regex) { m in
                (p.keep ? m.output[1].substring.map(String.init) ?? "" : "") + p.replacement
            }
        }
        return s
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
