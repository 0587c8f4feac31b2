import FoundationEssentials
import ShipitSupport

/// The OpenSSH client configuration (ssh_config(5)) as OpenSSH and net-ssh read it, for the
/// keywords that decide where and how to connect: `Host` blocks (patterns with `*`, `?` and `!`),
/// `Include`, `HostName`, `User`, `Port`, `IdentityFile`, `ProxyJump`, `UserKnownHostsFile`,
/// `ConnectTimeout`, `StrictHostKeyChecking`. Unknown keywords are ignored, as OpenSSH tools do;
/// the first value given for a keyword wins (`IdentityFile` accumulates). A `Match` block is not
/// evaluated (only `Match all` applies): its options are skipped.
public struct SSHConfig: Sendable {
    /// One line of a file, parsed: a block opener or an option; an `Include` holds its files.
    indirect enum Item: Sendable {
        case host(patterns: [String])
        case match(all: Bool)
        case option(keyword: String, args: [String])
        case include([SSHConfig])
    }

    /// What the configuration says for one host.
    public struct Resolved: Sendable, Equatable {
        public var hostName: String?
        public var user: String?
        public var port: Int?
        public var identityFiles: [String] = []
        /// `[user@]host[:port]` hops, in order; empty with none or `ProxyJump none`.
        public var proxyJump: [String] = []
        public var userKnownHostsFiles: [String] = []
        public var connectTimeout: Double?
        public var strictHostKeyChecking: String?

        public init() {}
    }

    public struct ParseError: Error, CustomStringConvertible, Sendable {
        public var file: String
        public var line: Int
        public var message: String
        public var description: String { "\(file):\(line): \(message)" }
    }

    let file: String
    let items: [Item]
    /// Where relative `Include` and `~` paths point (the user's ~/.ssh).
    let home: String

    static let maxIncludeDepth = 16

    /// Reads `path` (and what it includes). Relative `Include` paths are taken from `~/.ssh`.
    public static func load(path: String, home: String = LocalAccount.home) throws -> SSHConfig {
        try load(path: path, home: home, depth: 0)
    }

    static func load(path: String, home: String, depth: Int) throws -> SSHConfig {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw ParseError(file: path, line: 0, message: "cannot read the file")
        }
        return try parse(String(decoding: data, as: UTF8.self), file: path, home: home, depth: depth)
    }

    public static func parse(_ text: String, file: String = "ssh_config", home: String = LocalAccount.home) throws
        -> SSHConfig
    {
        try parse(text, file: file, home: home, depth: 0)
    }

    static func parse(_ text: String, file: String, home: String, depth: Int) throws -> SSHConfig {
        var items: [Item] = []
        for (index, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let lineNo = index + 1
            let line = raw.trimmed()
            if line.isEmpty || line.hasPrefix("#") { continue }
            let (keyword, args) = try split(line, file: file, line: lineNo)
            switch keyword {
            case "host":
                guard !args.isEmpty else {
                    throw ParseError(file: file, line: lineNo, message: "Host needs at least one pattern")
                }
                items.append(.host(patterns: args.map { $0.lowercased() }))
            case "match":
                items.append(.match(all: args.map { $0.lowercased() } == ["all"]))
            case "include":
                guard depth < maxIncludeDepth else {
                    throw ParseError(file: file, line: lineNo, message: "Include nested too deeply")
                }
                var included: [SSHConfig] = []
                for pattern in args {
                    let expanded = expandTilde(pattern, home: home)
                    let absolute = expanded.hasPrefix("/") ? expanded : home + "/.ssh/" + expanded
                    for path in glob(absolute) { included.append(try load(path: path, home: home, depth: depth + 1)) }
                }
                items.append(.include(included))
            default:
                try check(keyword, args, file: file, line: lineNo)
                items.append(.option(keyword: keyword, args: args))
            }
        }
        return SSHConfig(file: file, items: items, home: home)
    }

    /// Values shipit uses are checked where OpenSSH would refuse them too.
    static func check(_ keyword: String, _ args: [String], file: String, line: Int) throws {
        func fail(_ m: String) -> ParseError { ParseError(file: file, line: line, message: m) }
        switch keyword {
        case "port":
            guard args.count == 1, let p = Int(args[0]), (1...65535).contains(p) else {
                throw fail("Port: expected a TCP port, got '\(args.joined(separator: " "))'")
            }
        case "connecttimeout":
            // Bounded like ssh.connect_timeout: a huge value overflows when turned into milliseconds.
            guard args.count == 1, let t = Int(args[0]), (0...600).contains(t) else {
                throw fail("ConnectTimeout: expected seconds from 0 to 600, got '\(args.joined(separator: " "))'")
            }
        case "hostname", "user", "proxyjump", "identityfile", "stricthostkeychecking":
            guard !args.isEmpty else { throw fail("\(keyword): missing value") }
        default: break
        }
    }

    /// `Keyword value…` or `Keyword=value…`; values may be double-quoted.
    static func split(_ line: String, file: String, line lineNo: Int) throws -> (String, [String]) {
        var words: [String] = []
        var current = ""
        var inQuotes = false
        var hasWord = false
        var sawEquals = false
        for ch in line {
            if ch == "\"" {
                inQuotes.toggle()
                hasWord = true
                continue
            }
            // One `=` may stand between the keyword and its first value.
            let equals = ch == "=" && !sawEquals && (words.isEmpty || (words.count == 1 && !hasWord))
            if !inQuotes && (ch == " " || ch == "\t" || equals) {
                if ch == "=" { sawEquals = true }
                if hasWord {
                    words.append(current)
                    current = ""
                    hasWord = false
                }
                continue
            }
            current.append(ch)
            hasWord = true
        }
        guard !inQuotes else { throw ParseError(file: file, line: lineNo, message: "unbalanced quotes") }
        if hasWord { words.append(current) }
        guard let keyword = words.first else { throw ParseError(file: file, line: lineNo, message: "empty line") }
        return (keyword.lowercased(), Array(words.dropFirst()))
    }

    /// The settings for `host` (the name as given: an alias or an address), with `%` tokens and
    /// `~` expanded. `localUser` fills `%u`.
    public func resolve(_ host: String, localUser: String) -> Resolved {
        var seen: [String: [String]] = [:]
        var identities: [String] = []
        walk(host.lowercased(), active: true) { keyword, args in
            if keyword == "identityfile" {
                identities.append(args.joined(separator: " "))
                return
            }
            if seen[keyword] == nil { seen[keyword] = args }
        }
        var r = Resolved()
        let hostName = seen["hostname"].map {
            Self.expandTokens(
                $0.joined(separator: " "), host: host, hostName: host, user: nil, localUser: localUser, home: home)
        }
        r.hostName = hostName
        r.user = seen["user"]?.first
        r.port = seen["port"].flatMap { Int($0[0]) }
        let name = hostName ?? host
        r.identityFiles = identities.map {
            Self.expandTokens($0, host: host, hostName: name, user: r.user, localUser: localUser, home: home)
        }
        if let jump = seen["proxyjump"], jump.first?.lowercased() != "none" {
            r.proxyJump = jump.joined(separator: ",").split(separator: ",").map { String($0).trimmed() }.filter {
                !$0.isEmpty
            }
        }
        r.userKnownHostsFiles = (seen["userknownhostsfile"] ?? []).filter { $0.lowercased() != "none" }
            .map { Self.expandTokens($0, host: host, hostName: name, user: r.user, localUser: localUser, home: home) }
        r.connectTimeout = seen["connecttimeout"].flatMap { Double($0[0]) }.flatMap { $0 > 0 ? $0 : nil }
        r.strictHostKeyChecking = seen["stricthostkeychecking"]?.first?.lowercased()
        return r
    }

    /// Visits the options that apply to `host`, in file order. An `Include`d file's `Host` and
    /// `Match` lines do not change the including file's state (OpenSSH restores it after).
    func walk(_ host: String, active start: Bool, _ visit: (String, [String]) -> Void) {
        var active = start
        for item in items {
            switch item {
            case .host(let patterns): active = start && Self.matches(host, patterns)
            case .match(let all): active = start && all
            case .option(let keyword, let args): if active { visit(keyword, args) }
            case .include(let files): for f in files { f.walk(host, active: active, visit) }
            }
        }
    }

    /// A `Host` line matches when some pattern matches and no negated one does.
    static func matches(_ host: String, _ patterns: [String]) -> Bool {
        var positive = false
        for p in patterns {
            if p.hasPrefix("!") {
                if wildcard(host, String(p.dropFirst())) { return false }
            } else if wildcard(host, p) {
                positive = true
            }
        }
        return positive
    }

    /// `*` (any run) and `?` (one character), as OpenSSH's match_pattern.
    static func wildcard(_ text: String, _ pattern: String) -> Bool {
        let t = Array(text)
        let p = Array(pattern)
        var ti = 0
        var pi = 0
        var star = -1
        var mark = 0
        while ti < t.count {
            if pi < p.count && (p[pi] == "?" || p[pi] == t[ti]) {
                ti += 1
                pi += 1
            } else if pi < p.count && p[pi] == "*" {
                star = pi
                mark = ti
                pi += 1
            } else if star >= 0 {
                pi = star + 1
                mark += 1
                ti = mark
            } else {
                return false
            }
        }
        while pi < p.count && p[pi] == "*" { pi += 1 }
        return pi == p.count
    }

    static func expandTilde(_ path: String, home: String) -> String {
        path == "~" ? home : path.hasPrefix("~/") ? home + path.dropFirst(1) : path
    }

    /// `%h` host name, `%n` the name as given, `%r` remote user, `%u` local user, `%d` home, `%%`.
    static func expandTokens(
        _ value: String, host: String, hostName: String, user: String?, localUser: String, home: String
    ) -> String {
        var out = ""
        var it = expandTilde(value, home: home).makeIterator()
        while let c = it.next() {
            guard c == "%" else {
                out.append(c)
                continue
            }
            switch it.next() {
            case "h": out += hostName
            case "n": out += host
            case "r": out += user ?? localUser
            case "u": out += localUser
            case "d": out += home
            case "%": out += "%"
            case let other?: out += "%" + String(other)
            case nil: out += "%"
            }
        }
        return out
    }

    /// Paths matching a glob (only the last component may hold wildcards, as in practice).
    static func glob(_ pattern: String) -> [String] {
        guard pattern.contains("*") || pattern.contains("?") else {
            return FileManager.default.fileExists(atPath: pattern) ? [pattern] : []
        }
        let dir = FilePath.directory(of: pattern)
        let name = FilePath.lastComponent(of: pattern)
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []
        return entries.filter { !$0.hasPrefix(".") && wildcard($0, name) }.sorted().map { dir + "/" + $0 }
    }
}
