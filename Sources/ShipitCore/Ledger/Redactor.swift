import FoundationEssentials

/// Hides secrets before anything is printed or stored: the values of secret-looking environment
/// variables (and config values) wherever they appear, URL userinfo, webhook URLs whose path is the
/// credential (Slack, Discord), `SECRET_KEY_BASE=…`-style pairs (any name with a secret word),
/// bearer tokens, well-known token formats and private-key blocks.
public struct Redactor: Sendable {
    public static let mask = "***"
    /// Literal secret values (from the environment), longest first so overlaps are fully hidden.
    public let literals: [String]

    /// Words that mark an environment variable (or config key) as secret, matched in its uppercased
    /// name (no regular expression: every run checks every environment variable).
    static let secretWords = [
        "PASS", "SECRET", "TOKEN", "PRIVATE", "CREDENTIAL", "APIKEY", "API_KEY", "ACCESSKEY", "ACCESS_KEY", "AUTH",
        "DATABASE_URL", "DSN",
        "WEBHOOK", "SIGNATURE", "CERT_KEY", "SESSION_KEY",
    ]

    /// Each pattern with what replaces a match: `keep` is group 1 kept in front of the mask.
    /// Every match starts at one of the pattern's `triggers` (lowercase), or, for a URL, at the
    /// scheme before `://`: the regular expression is only tried there, anchored (Swift's Regex
    /// costs about a microsecond per byte it scans, and a fleet's logs are many megabytes).
    struct Pattern: @unchecked Sendable {
        let regex: Regex<AnyRegexOutput>
        let keep: Bool
        let replacement: String
        /// A quoted value (`"a b c"`) is masked whole and keeps its quotes.
        let quotedValue: Bool
        let triggers: [[UInt8]]
        /// The match starts at the URL scheme that ends where the trigger (`://`) starts.
        let schemeBefore: Bool
        /// No letter, digit or `_` right before the match (a `\b`).
        let wordStart: Bool

        init(
            _ pattern: String, ignoreCase: Bool = false, keep: Bool, _ replacement: String, triggers: [String],
            schemeBefore: Bool = false, wordStart: Bool = false, quotedValue: Bool = false
        ) {
            let r = try! Regex(pattern)
            regex = ignoreCase ? r.ignoresCase() : r
            self.keep = keep
            self.replacement = replacement
            self.quotedValue = quotedValue
            self.triggers = triggers.map { Array($0.utf8) }
            self.schemeBefore = schemeBefore
            self.wordStart = wordStart
        }

        /// Byte offsets where a match may start, in order.
        func starts(_ lower: [UInt8]) -> [Int] {
            var out: [Int] = []
            for i in lower.indices {
                for t in triggers
                where lower.count - i >= t.count && lower[i] == t[0] && lower[i..<(i + t.count)].elementsEqual(t) {
                    if schemeBefore {
                        var j = i
                        while j > 0, Redactor.isSchemeByte(lower[j - 1]) { j -= 1 }
                        if let letter = (j..<i).first(where: { lower[$0] >= 97 && lower[$0] <= 122 }) {
                            out.append(letter)
                        }
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
                out += keep ? m.output[1].substring.map(String.init) ?? "" : ""
                let value = line[(m.output[1].range?.upperBound ?? start)..<m.range.upperBound]
                if quotedValue, let q = value.first, q == "\"" || q == "'" {
                    out += "\(q)\(replacement)\(q)"
                } else {
                    out += replacement
                }
                copied = m.range.upperBound
            }
            return out + line[copied...]
        }
    }

    static func isSchemeByte(_ b: UInt8) -> Bool {
        (97...122).contains(b) || (48...57).contains(b) || b == 43 || b == 46 || b == 45
    }
    static func isWordByte(_ b: UInt8) -> Bool {
        (97...122).contains(b) || (65...90).contains(b) || (48...57).contains(b) || b == 95
    }

    /// A value after `=` or `:`: quoted whole (`"a b c"`, `'x'`, with `\"` inside), else up to a
    /// space, quote or separator.
    static let value = #"(?:"(?:[^"\\\n]|\\.)*"|'[^'\n]*'|[^\s"'&,;]+)"#
    /// The rest of a secret-ish name, then the separator: `_KEY_BASE=`, `": "`, ` = `. The name
    /// goes on only after `_`, `-` or `.`: `passed: 12` and `keyboard=us` are not secrets.
    static let nameRest = #"(?:[_.-][A-Za-z0-9_.-]*)?["']?\s*[=:]\s*"#

    static let patterns: [Pattern] = [
        // scheme://user:password@host — the password runs to the last `@` of the authority, so an
        // unencoded `@` in it (`u:p@ss@h`) is hidden whole.
        Pattern(
            #"([a-zA-Z][a-zA-Z0-9+.-]*://[^:/@\s]*:)[^\s@]*(?:@[^\s@/]*)*@"#, keep: true, "\(mask)@", triggers: ["://"],
            schemeBefore: true),
        // scheme://token@host: a userinfo that is a long key (a Sentry DSN), not a login name.
        Pattern(
            #"([a-zA-Z][a-zA-Z0-9+.-]*://)[A-Za-z0-9_-]{16,}@"#, keep: true, "\(mask)@", triggers: ["://"],
            schemeBefore: true),
        // Webhook URLs whose path is the credential: anyone holding one can post.
        Pattern(
            #"([a-zA-Z][a-zA-Z0-9+.-]*://(?:hooks\.slack\.com/(?:services|workflows|triggers)/|(?:(?:canary|ptb)\.)?discord(?:app)?\.com/api/webhooks/|[a-z0-9-]+\.webhook\.office\.com/))[^\s"'<>]+"#,
            ignoreCase: true, keep: true, mask, triggers: ["://"], schemeBefore: true),
        // PASSWORD=…, SECRET_KEY_BASE=…, db_passwd: …, "token": "…", PRIVATE_KEY='…': any name
        // with a secret word in it; the match starts at the word (the name's start is kept as is).
        Pattern(
            #"((?:pass(?:word|wd|phrase)?|pwd|secret|token|api[_-]?key|access[_-]?key|private[_-]?key|credentials?)"#
                + nameRest + ")" + value, ignoreCase: true, keep: true, mask,
            triggers: ["pass", "pwd", "secret", "token", "api", "access", "private", "credential"], quotedValue: true),
        // STRIPE_KEY=…, signing-key: …, key=…: `key` as a word of the name.
        Pattern(
            #"([_.-]key"# + nameRest + ")" + value, ignoreCase: true, keep: true, mask,
            triggers: ["_key", "-key", ".key"], quotedValue: true),
        Pattern(
            #"(key"# + nameRest + ")" + value, ignoreCase: true, keep: true, mask, triggers: ["key"], wordStart: true,
            quotedValue: true),
        Pattern(
            #"(Bearer|Basic)\s+[A-Za-z0-9._~+/=-]{8,}"#, ignoreCase: true, keep: true, " \(mask)",
            triggers: ["bearer", "basic"]),
        Pattern(
            #"(gh[pousr]_[A-Za-z0-9]{20,}|github_pat_[A-Za-z0-9_]{20,}|glpat-[A-Za-z0-9_-]{20,}|(?:AKIA|ASIA)[0-9A-Z]{16}|xox[abeoprs]-[A-Za-z0-9-]{10,}|[sr]k_(?:live|test)_[A-Za-z0-9]{10,})"#,
            keep: false, mask,
            triggers: [
                "ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_", "glpat-", "akia", "asia", "xoxa-", "xoxb-",
                "xoxe-", "xoxo-", "xoxp-", "xoxr-", "xoxs-",
                "sk_live_", "sk_test_", "rk_live_", "rk_test_",
            ], wordStart: true),
    ]

    nonisolated(unsafe) static let privateKey = try! Regex(
        #"-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]*?(-----END [A-Z ]*PRIVATE KEY-----|$)"#)

    public init(environment: [String: String] = ProcessInfo.processInfo.environment, extraSecrets: [String] = []) {
        let fromEnv = environment.filter { Self.isSecretName($0.key) }.map(\.value)
        literals = Array(Set((fromEnv + extraSecrets).filter { $0.count >= 6 })).sorted { $0.count > $1.count }
    }

    /// The redactor of a run of `config`: the values of its secret-named settings (`image.env.
    /// STRIPE_KEY`, a webhook's URL) are hidden wherever they show up, whole (a value with spaces
    /// or quotes, which no pattern can delimit, included).
    public init(config: DeployConfig, environment: [String: String] = ProcessInfo.processInfo.environment) {
        let secrets =
            config.settings.filter { Self.isSecretName(Self.leaf($0.key)) }.map(\.value)
            + (config.image?.env ?? [:]).filter { Self.isSecretName($0.key) }.map(\.value)
        // Also as it appears inside a single-quoted shell word (`-e 'K=it'\''s'` in a command).
        let shellQuoted = secrets.filter { $0.contains(Character("'")) }.map {
            $0.split(separator: "'", omittingEmptySubsequences: false).joined(separator: #"'\''"#)
        }
        self.init(environment: environment, extraSecrets: secrets + shellQuoted)
    }

    static func leaf(_ key: String) -> String { key.split(separator: ".").last.map(String.init) ?? key }

    /// The process environment's secrets and every pattern: for text read before a run's config
    /// is at hand (response bodies), computed once.
    public static let standard = Redactor()

    public static func isSecretName(_ name: String) -> Bool {
        let upper = name.uppercased()
        if secretWords.contains(where: { upper.contains($0) }) { return true }
        // `KEY` as a word of the name (STRIPE_KEY, SECRET_KEY_BASE, signing-key, masterKey), not
        // inside another word (KEYBOARD, MONKEY_PATCH).
        let words = upper.split { !$0.isLetter && !$0.isNumber }
        return words.contains { $0 == "KEY" }
            || name.split { !$0.isLetter && !$0.isNumber }.contains { $0.hasSuffix("Key") }
    }

    static func lowercasedBytes(_ text: some StringProtocol) -> [UInt8] {
        var bytes = Array(text.utf8)
        for i in bytes.indices where bytes[i] >= 65 && bytes[i] <= 90 { bytes[i] += 32 }
        return bytes
    }

    public func redact(_ text: String) -> String {
        var s = text
        for l in SecretValues.current where s.contains(l) { s = s.replacing(l, with: Self.mask) }
        for l in literals where s.contains(l) { s = s.replacing(l, with: Self.mask) }
        // A private key block spans lines: the one pattern run on the whole text, when it can match.
        if s.contains("PRIVATE KEY-----") {
            s = s.replacing(Self.privateKey) { _ in "\(Self.mask) private key \(Self.mask)" }
        }
        // The others match within a line, starting at a trigger: most text has none.
        let whole = Self.lowercasedBytes(s)
        guard Self.patterns.contains(where: { !$0.starts(whole).isEmpty }) else { return s }
        var lines = s.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        for i in lines.indices {
            var lower = Self.lowercasedBytes(lines[i])
            for p in Self.patterns {
                let next = p.apply(to: lines[i], lower: lower)
                if next != lines[i] {
                    lines[i] = next
                    lower = Self.lowercasedBytes(next)
                }
            }
        }
        return lines.joined(separator: "\n")
    }

    public func redact(_ text: String?) -> String? { text.map { redact($0) } }

    /// One line of a stream read line by line (`exec` output): a private key block spans lines,
    /// so `inPrivateKey` carries whether one is open; its lines are masked until its END line.
    public func redact(line: String, inPrivateKey: inout Bool) -> String {
        let ends = line.contains("-----END") && line.contains("PRIVATE KEY-----")
        if inPrivateKey {
            if ends { inPrivateKey = false }
            return Self.mask
        }
        if line.contains("-----BEGIN") && line.contains("PRIVATE KEY-----") && !ends { inPrivateKey = true }
        return redact(line)
    }

    /// A config map with secret-named keys masked and every value scrubbed.
    public func redact(settings: [String: String]) -> [String: String] {
        var out: [String: String] = [:]
        for (k, v) in settings {
            out[k] = Self.isSecretName(Self.leaf(k)) ? Self.mask : redact(v)
        }
        return out
    }
}
