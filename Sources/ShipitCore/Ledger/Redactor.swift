import Foundation

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

    static let patterns: [(NSRegularExpression, String)] = [
        // scheme://user:password@host
        (try! NSRegularExpression(pattern: "([a-zA-Z][a-zA-Z0-9+.-]*://[^:/@\\s]*:)[^@\\s]+@"), "$1\(mask)@"),
        // password=…, token: …, "secret": "…"
        (try! NSRegularExpression(pattern: "((?:password|passwd|pwd|secret|token|api[_-]?key|access[_-]?key)[\"']?\\s*[=:]\\s*[\"']?)[^\\s\"'&,;]+", options: [.caseInsensitive]), "$1\(mask)"),
        (try! NSRegularExpression(pattern: "(Bearer|Basic)\\s+[A-Za-z0-9._~+/=-]{8,}", options: [.caseInsensitive]), "$1 \(mask)"),
        (try! NSRegularExpression(pattern: "\\b(gh[pousr]_[A-Za-z0-9]{20,}|glpat-[A-Za-z0-9_-]{20,}|AKIA[0-9A-Z]{16}|xox[abprs]-[A-Za-z0-9-]{10,})"), mask),
        (try! NSRegularExpression(pattern: "-----BEGIN [A-Z ]*PRIVATE KEY-----[\\s\\S]*?(-----END [A-Z ]*PRIVATE KEY-----|$)"), "\(mask) private key \(mask)"),
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
        for l in literals where s.contains(l) { s = s.replacingOccurrences(of: l, with: Self.mask) }
        guard Self.mayMatch(s) else { return s }
        for (re, template) in Self.patterns {
            s = re.stringByReplacingMatches(in: s, range: NSRange(s.startIndex..., in: s), withTemplate: template)
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
