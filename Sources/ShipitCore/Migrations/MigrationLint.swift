import FoundationEssentials
import ShipitSupport

/// Expand/contract lint of one SQL migration. *Expand* changes (CREATE TABLE, ADD COLUMN nullable or
/// with a default, CREATE INDEX CONCURRENTLY, constraints NOT VALID, VALIDATE) leave the old code
/// working, so a code rollback stays safe. *Contract* changes (DROP, RENAME, type changes, NOT NULL
/// without a default, TRUNCATE) and *locking* ones (index builds without CONCURRENTLY on an existing
/// table, constraints validated in place) are not: a release with one is `rollbackUnsafe`.
public enum MigrationLint {
    public enum Kind: String, Codable, Sendable { case contract, locking }

    public struct Finding: Codable, Sendable, Equatable {
        public var file: String
        public var line: Int
        public var statement: String
        public var rule: String
        public var kind: Kind
        /// The expand/contract way to get the same result.
        public var alternative: String
    }

    struct Rule: @unchecked Sendable {
        let name: String
        let kind: Kind
        let pattern: Regex<AnyRegexOutput>
        let unless: Regex<AnyRegexOutput>?
        let alternative: String
    }

    private static func re(_ p: String) -> Regex<AnyRegexOutput> { try! Regex(p).ignoresCase() }

    static let rules: [Rule] = [
        Rule(
            name: "drop-table", kind: .contract, pattern: re(#"^\s*DROP\s+TABLE\b"#), unless: nil,
            alternative:
                "stop using the table in one release, drop it in a later one (after no deployed or rollback-target code reads it)"
        ),
        Rule(
            name: "drop-column", kind: .contract,
            pattern: re(#"^\s*ALTER\s+TABLE\b.*\bDROP\s+(COLUMN\b|(?!CONSTRAINT\b|DEFAULT\b|NOT\b)\w)"#), unless: nil,
            alternative: "stop reading and writing the column in one release, drop it in a later one"),
        Rule(
            name: "rename", kind: .contract, pattern: re(#"^\s*ALTER\s+(TABLE|INDEX|SEQUENCE|VIEW)\b.*\bRENAME\b"#),
            unless: nil,
            alternative:
                "add the new name (column/table) alongside, backfill and write both, switch reads, drop the old one later"
        ),
        Rule(
            name: "alter-type", kind: .contract,
            pattern: re(#"^\s*ALTER\s+TABLE\b.*\bALTER\s+(COLUMN\s+)?\S+\s+(SET\s+DATA\s+)?TYPE\b"#), unless: nil,
            alternative: "add a new column of the new type, backfill, switch reads, drop the old column later"),
        Rule(
            name: "set-not-null", kind: .locking,
            pattern: re(#"^\s*ALTER\s+TABLE\b.*\bALTER\s+(COLUMN\s+)?\S+\s+SET\s+NOT\s+NULL\b"#), unless: nil,
            alternative:
                "ADD CONSTRAINT … CHECK (col IS NOT NULL) NOT VALID, then VALIDATE CONSTRAINT in a later migration"),
        Rule(
            name: "add-column-not-null-without-default", kind: .contract,
            pattern: re(#"^\s*ALTER\s+TABLE\b.*\bADD\s+(COLUMN\s+)?(IF\s+NOT\s+EXISTS\s+)?\S+\s+[^,]*\bNOT\s+NULL\b"#),
            unless: re(#"\bDEFAULT\b"#),
            alternative:
                "add the column nullable (or with a DEFAULT), backfill, then add the NOT NULL check NOT VALID and validate it"
        ),
        Rule(
            name: "create-index-without-concurrently", kind: .locking,
            pattern: re(#"^\s*CREATE\s+(UNIQUE\s+)?INDEX\b"#), unless: re(#"\bCONCURRENTLY\b"#),
            alternative: "CREATE INDEX CONCURRENTLY (in a migration of its own: it cannot run inside a transaction)"),
        Rule(
            name: "truncate", kind: .contract, pattern: re(#"^\s*TRUNCATE\b"#), unless: nil,
            alternative: "delete in batches from a job, or keep the data until no code needs it"),
        Rule(
            name: "add-constraint-validated", kind: .locking,
            pattern: re(#"^\s*ALTER\s+TABLE\b.*\bADD\s+(CONSTRAINT\s+\S+\s+)?(FOREIGN\s+KEY|CHECK)\b"#),
            unless: re(#"\bNOT\s+VALID\b"#),
            alternative: "ADD CONSTRAINT … NOT VALID, then VALIDATE CONSTRAINT in a later migration"),
        Rule(
            name: "add-unique-or-primary-key", kind: .locking,
            pattern: re(#"^\s*ALTER\s+TABLE\b.*\bADD\s+(CONSTRAINT\s+\S+\s+)?(UNIQUE|PRIMARY\s+KEY)\b"#),
            unless: re(#"\bUSING\s+INDEX\b"#),
            alternative: "CREATE UNIQUE INDEX CONCURRENTLY first, then ADD CONSTRAINT … USING INDEX"),
    ]

    /// Findings for one file. Tables created in the same file are new: indexing them is not locking.
    public static func lint(file: String, sql: String) -> [Finding] {
        let statements = SQLStatements.split(sql)
        let created = Set(statements.compactMap { createdTable($0.text) })
        var out: [Finding] = []
        for st in statements {
            let flat = st.text.replacing("\n", with: " ")
            for rule in rules where flat.contains(rule.pattern) {
                if let unless = rule.unless, flat.contains(unless) { continue }
                if rule.name == "create-index-without-concurrently", let t = indexedTable(flat), created.contains(t) {
                    continue
                }
                out.append(
                    Finding(
                        file: file, line: st.line, statement: String(flat.prefix(200)), rule: rule.name,
                        kind: rule.kind, alternative: rule.alternative))
                break  // one finding per statement: the first rule that matches
            }
        }
        return out
    }

    static func createdTable(_ s: String) -> String? {
        capture(#"^\s*CREATE\s+(?:UNLOGGED\s+)?TABLE\s+(?:IF\s+NOT\s+EXISTS\s+)?([\w."]+)"#, s)
    }

    static func indexedTable(_ s: String) -> String? {
        capture(#"\bON\s+(?:ONLY\s+)?([\w."]+)"#, s)
    }

    private static func capture(_ pattern: String, _ s: String) -> String? {
        guard let m = s.firstMatch(of: re(pattern)), let g = m.output[1].substring else { return nil }
        return g.replacing("\"", with: "").lowercased()
    }
}

/// Splits SQL into statements with the line each starts on, ignoring `;` inside quotes, dollar
/// quotes and comments (enough for migration files; not a full parser).
public enum SQLStatements {
    public struct Statement: Equatable, Sendable {
        public var text: String
        public var line: Int
    }

    public static func split(_ sql: String) -> [Statement] {
        var out: [Statement] = []
        var current = ""
        var line = 1
        var startLine: Int?
        let chars = Array(sql)
        var i = 0
        func flush() {
            let t = current.trimmed()
            if !t.isEmpty, let l = startLine { out.append(Statement(text: t, line: l)) }
            current = ""
            startLine = nil
        }
        while i < chars.count {
            let c = chars[i]
            let next: Character? = i + 1 < chars.count ? chars[i + 1] : nil
            if c == "-" && next == "-" {  // line comment
                while i < chars.count && chars[i] != "\n" { i += 1 }
                continue
            }
            if c == "/" && next == "*" {  // block comment
                i += 2
                while i + 1 < chars.count && !(chars[i] == "*" && chars[i + 1] == "/") {
                    if chars[i] == "\n" { line += 1 }
                    i += 1
                }
                i += 2
                continue
            }
            if c == "\n" { line += 1 }
            if startLine == nil && !c.isWhitespace && c != ";" { startLine = line }
            if c == "'" || c == "\"" {  // quoted literal or identifier
                current.append(c)
                i += 1
                while i < chars.count {
                    current.append(chars[i])
                    if chars[i] == "\n" { line += 1 }
                    if chars[i] == c {
                        if i + 1 < chars.count && chars[i + 1] == c {
                            i += 1
                            current.append(c)
                        } else {
                            break
                        }
                    }
                    i += 1
                }
                i += 1
                continue
            }
            if c == "$" {  // dollar quote: $$ or $tag$
                var j = i + 1
                while j < chars.count && (chars[j].isLetter || chars[j].isNumber || chars[j] == "_") { j += 1 }
                if j < chars.count && chars[j] == "$" {
                    let tag = String(chars[i...j])
                    current += tag
                    i = j + 1
                    while i < chars.count {
                        if chars[i] == "$", String(chars[i..<min(chars.count, i + tag.count)]) == tag {
                            current += tag
                            i += tag.count
                            break
                        }
                        if chars[i] == "\n" { line += 1 }
                        current.append(chars[i])
                        i += 1
                    }
                    continue
                }
            }
            if c == ";" {
                flush()
                i += 1
                continue
            }
            current.append(c)
            i += 1
        }
        flush()
        return out
    }
}
