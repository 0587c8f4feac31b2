import FoundationEssentials
import SSH

/// What a release holds, as the hosts extract it: every directory, symbolic link and regular file
/// of the artifact, with the file's mode as archived and its sha256. Read from the artifact itself
/// (extracted once on the deployer), so a delta is built from exactly what a full upload would send.
public struct ReleaseTree: Sendable, Equatable {
    public enum Kind: Sendable, Equatable {
        case directory, symlink, file
    }

    public struct Entry: Sendable, Equatable {
        public var kind: Kind
        /// As `find .` prints it on a host: `./a/b`.
        public var path: String
        /// The archived permission bits, octal (`644`, `755`).
        public var mode: String
        /// The archived modification time, whole seconds since the epoch (`0` for a `--from`
        /// directory's artifact, the commit's time for `--ref`).
        public var mtime: String
        public var size: Int64
        /// sha256 of a regular file's bytes; empty for the others.
        public var digest: String

        public init(kind: Kind, path: String, mode: String, mtime: String = "0", size: Int64 = 0, digest: String = "") {
            self.kind = kind
            self.path = path
            self.mode = mode
            self.mtime = mtime
            self.size = size
            self.digest = digest
        }
    }

    public var entries: [Entry]
    /// Where the tree is extracted on the deployer (the delta's files are taken from there); empty
    /// for a tree read from the artifact's tar stream, which nothing extracted yet.
    public var root: String
    /// By path (its bytes): the member's name in the artifact, as tar matches it (`a/b` in `git
    /// archive`'s, `./a/b/` for a directory in GNU tar's). Known for a tree read from the tar stream.
    public var members: [[UInt8]: String] = [:]

    public init(entries: [Entry], root: String) {
        self.entries = entries
        self.root = root
    }

    public var files: [Entry] { entries.filter { $0.kind == .file } }
    public var bytes: Int64 { files.reduce(0) { $0 + $1.size } }

    /// The artifact extracted into `dir` with its archived modes (`-p`) and times, then listed:
    /// what every host would hold after a full upload, before shared paths are linked in. The
    /// release's own directory is the entry `.`.
    public static func read(artifact: String, into dir: String) throws -> ReleaseTree {
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        try LocalProcess.run(["tar", "--no-same-owner", "-p", "-xf", artifact, "-C", dir])
        let listed = try LocalProcess.run(["find", dir, "-printf", "%y %m %s %T@ %P\\0"])
        var entries: [Entry] = []
        for record in listed.split(separator: "\0") {
            let parts = record.split(separator: " ", maxSplits: 4, omittingEmptySubsequences: false)
            guard parts.count == 5 else { continue }
            let path = parts[4].isEmpty ? "." : "./" + parts[4]
            // Whole seconds: what `touch -d @…` takes, and all a tar header holds.
            let (mode, mtime) = (String(parts[1]), String(parts[3].prefix { $0 != "." }))
            switch parts[0] {
            case "d": entries.append(Entry(kind: .directory, path: path, mode: mode, mtime: mtime))
            case "l": entries.append(Entry(kind: .symlink, path: path, mode: mode, mtime: mtime))
            case "f":
                entries.append(
                    Entry(
                        kind: .file, path: path, mode: mode, mtime: mtime, size: Int64(parts[2]) ?? 0,
                        digest: try Digest.sha256Hex(file: FilePath.join(dir, String(path.dropFirst(2))))))
            default:
                throw ShipitError.input("--from: \(path) is neither a file, a directory nor a symbolic link")
            }
        }
        return ReleaseTree(entries: entries.sorted { $0.path.utf8.lexicographicallyPrecedes($1.path.utf8) }, root: dir)
    }

    /// Whether every name fits the line-based lists a host reads as it is: no newline or
    /// backslash (`sha256sum` escapes those), and UTF-8 (checked on bytes: "\r\n" is one
    /// Character, and a name that is not UTF-8 was decoded with U+FFFD).
    public var namesArePlain: Bool {
        !entries.contains {
            $0.path.utf8.contains(UInt8(ascii: "\n")) || $0.path.utf8.contains(UInt8(ascii: "\\"))
                || $0.path.unicodeScalars.contains("\u{FFFD}")
        }
    }

    /// `sha256sum`'s lines for the tree's files, as the host's `.shipit-manifest` has them before
    /// shared paths are taken out: `<digest>  ./path`. A file named `.shipit-manifest` is not
    /// listed at any depth, as the host's own listing leaves it out.
    public var manifest: String {
        files.filter { !$0.path.hasSuffix("/.shipit-manifest") }.map { "\($0.digest)  \($0.path)\n" }.joined()
    }
}
