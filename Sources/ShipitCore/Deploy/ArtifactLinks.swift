import FoundationEssentials
import SSH

/// The links in a release tarball, read from the tarball itself (what the hosts will extract):
/// symbolic links with their targets, and hard links. Two uses:
/// - a `shared:` path must not pass through a symbolic link of the artifact: the staging script
///   replaces that path with a link into `shared/` (it removes what is there first) and seeds
///   `shared/` from it, so `config -> /srv/other/config` with `shared: [config/database.yml]` would
///   remove a file outside the release and copy outside files into `shared/`;
/// - hard links, and symbolic links that leave the release, are only extracted safely by GNU tar
///   (it keeps every member inside the target directory); a host with another tar (BusyBox) refuses
///   such an artifact (`needsGNUTar`).
public struct ArtifactLinks: Sendable, Equatable {
    public struct Link: Sendable, Equatable, CustomStringConvertible {
        /// Inside the release, without `./` (`config`, `a/b`).
        public let path: String
        public let target: String
        public var description: String { "\(path) -> \(target)" }
    }

    public var symbolic: [Link] = []
    public var hard: [Link] = []
    /// Every member's path (from the same listing): a `shared:` path the release holds seeds
    /// `shared/` on a first deploy; one it does not hold must already be on the host.
    public var paths: Set<String> = []

    public init(symbolic: [Link] = [], hard: [Link] = []) {
        self.symbolic = symbolic
        self.hard = hard
    }

    /// Lists `tarball` with GNU tar (names C-quoted: one line per member whatever its name holds).
    public static func read(tarball: String) throws -> ArtifactLinks {
        let listing: String
        do { listing = try LocalProcess.run(["tar", "--quoting-style=c", "--numeric-owner", "-tvf", tarball]) } catch {
            throw ShipitError("cannot list the artifact \(tarball): \(error)")
        }
        return parse(listing: listing)
    }

    /// `tar -tv --quoting-style=c` lines: `lrwxrwxrwx 0/0 0 DATE TIME "./a" -> "target"`,
    /// `hrw-r--r-- 0/0 0 DATE TIME "./b" link to "./a"`.
    static func parse(listing: String) -> ArtifactLinks {
        var links = ArtifactLinks()
        for line in listing.split(separator: "\n") {
            guard let type = line.first, let open = line.firstIndex(of: "\"") else { continue }
            var rest = line[open...]
            guard let name = cString(&rest) else { continue }
            links.paths.insert(normalized(name))
            guard type == "l" || type == "h" else { continue }
            let arrow = type == "l" ? " -> " : " link to "
            guard rest.hasPrefix(arrow) else { continue }
            rest = rest.dropFirst(arrow.count)
            guard let target = cString(&rest) else { continue }
            let link = Link(path: normalized(name), target: type == "h" ? normalized(target) : target)
            if type == "l" { links.symbolic.append(link) } else { links.hard.append(link) }
        }
        return links
    }

    /// Reads one C-quoted string at the start of `s` and drops it from `s`.
    static func cString(_ s: inout Substring) -> String? {
        guard s.first == "\"" else { return nil }
        var bytes: [UInt8] = []
        var i = s.utf8.index(after: s.utf8.startIndex)
        let u = s.utf8
        while i < u.endIndex {
            let c = u[i]
            if c == 0x22 {
                s = Substring(u[u.index(after: i)...])
                return String(decoding: bytes, as: UTF8.self)
            }
            if c == 0x5C {
                i = u.index(after: i)
                guard i < u.endIndex else { return nil }
                let e = u[i]
                switch e {
                case UInt8(ascii: "n"): bytes.append(0x0A)
                case UInt8(ascii: "t"): bytes.append(0x09)
                case UInt8(ascii: "r"): bytes.append(0x0D)
                case UInt8(ascii: "a"): bytes.append(0x07)
                case UInt8(ascii: "b"): bytes.append(0x08)
                case UInt8(ascii: "f"): bytes.append(0x0C)
                case UInt8(ascii: "v"): bytes.append(0x0B)
                case UInt8(ascii: "0")...UInt8(ascii: "7"):
                    var value = Int(e - 0x30)
                    var n = 1
                    while n < 3, u.index(after: i) < u.endIndex,
                        (UInt8(ascii: "0")...UInt8(ascii: "7")).contains(u[u.index(after: i)])
                    {
                        i = u.index(after: i)
                        value = value * 8 + Int(u[i] - 0x30)
                        n += 1
                    }
                    bytes.append(UInt8(truncatingIfNeeded: value))
                default: bytes.append(e)  // \" \\ and anything else: the character itself
                }
            } else {
                bytes.append(c)
            }
            i = u.index(after: i)
        }
        return nil
    }

    /// The `shared:` paths a release does not hold: each must be on the host already.
    public func sharedPathsNotInRelease(_ shared: [String]) -> [String] {
        shared.filter { !paths.contains(Self.normalized($0)) }
    }

    /// `./config/` → `config`.
    static func normalized(_ name: String) -> String {
        var n = Substring(name)
        while n.hasPrefix("./") { n = n.dropFirst(2) }
        while n.hasSuffix("/") { n = n.dropLast() }
        return String(n)
    }

    /// Whether a link at `path` to `target` resolves outside the release (absolute, or more `..`
    /// than the directories above it). Judged on the text: what the target is on a host is not known.
    public static func leavesRelease(path: String, target: String) -> Bool {
        if target.hasPrefix("/") { return true }
        var depth = path.split(separator: "/").count - 1  // the link's own directory
        for part in target.split(separator: "/") {
            if part == ".." {
                depth -= 1
                if depth < 0 { return true }
            } else if part != "." {
                depth += 1
            }
        }
        return false
    }

    /// A shared path that passes through (or is) a symbolic link of the artifact: refused, naming
    /// both, before any host is touched.
    public func checkShared(_ shared: [String], field: String = "shared") throws(ShipitError) {
        let byPath = Dictionary(symbolic.map { ($0.path, $0.target) }, uniquingKeysWith: { a, _ in a })
        for p in shared {
            let parts = p.split(separator: "/").filter { $0 != "." }
            guard !parts.isEmpty else { continue }
            for n in 1...parts.count {
                let prefix = parts.prefix(n).joined(separator: "/")
                if let target = byPath[prefix] {
                    let which = prefix == normalizedShared(p) ? "it is" : "'\(prefix)' is"
                    throw ShipitError.input(
                        "\(field): \(p): \(which) a symbolic link in the artifact (to \(target)); a shared path must be a plain directory or file of the release, or absent"
                    )
                }
            }
        }
    }

    private func normalizedShared(_ p: String) -> String {
        p.split(separator: "/").filter { $0 != "." }.joined(separator: "/")
    }

    /// What only GNU tar extracts safely, for the host's staging script ("" when nothing):
    /// hard links, and symbolic links that leave the release.
    public var needsGNUTar: String {
        let leaving = symbolic.filter { Self.leavesRelease(path: $0.path, target: $0.target) }
        var parts: [String] = []
        if !hard.isEmpty { parts.append("\(hard.count) hard link(s) (\(Self.sample(hard)))") }
        if !leaving.isEmpty {
            parts.append("\(leaving.count) symbolic link(s) out of the release (\(Self.sample(leaving)))")
        }
        return parts.joined(separator: " and ")
    }

    /// The first few, printable: this text goes into an `error=` line.
    static func sample(_ links: [Link]) -> String {
        let shown = links.prefix(3).map {
            String(
                $0.description.unicodeScalars.map {
                    $0.isASCII && $0.value >= 0x20 && $0.value < 0x7F ? Character($0) : "?"
                })
        }
        return shown.joined(separator: ", ") + (links.count > 3 ? ", …" : "")
    }
}
