/// What to send a host that already holds earlier releases: the new release's files it has at the
/// same path with the same sha256 in a kept release are copied there, on the host, from that
/// release; the others travel. Pure: the manifests are the kept releases' `.shipit-manifest`s.
///
/// Copies, never hard links: a release dir shares no inode with another, so an app writing into
/// its own release (or a later release's chmod) cannot change a release kept for rollback.
public struct DeltaPlan: Sendable {
    /// A kept release and its manifest (path → sha256), as the host wrote it. Paths are keyed by
    /// their bytes: two names that Unicode calls equal (NFC and NFD) are two files.
    public struct Kept: Sendable, Equatable {
        public var id: String
        public var files: [[UInt8]: String]

        public init(id: String, files: [[UInt8]: String]) {
            self.id = id
            self.files = files
        }

        /// `sha256sum` lines (`<digest>  ./path`); a line it escaped (a name with a newline or a
        /// backslash) names no file a delta copies.
        public init(id: String, manifest: some Collection<UInt8>) {
            var files: [[UInt8]: String] = [:]
            for line in manifest.split(separator: UInt8(ascii: "\n")) {
                let b = Array(line)
                guard b.count > 68, b[64] == UInt8(ascii: " "), b[65] == UInt8(ascii: " "),
                    b[0] != UInt8(ascii: "\\")
                else { continue }
                files[Array(b[66...])] = String(decoding: b[..<64], as: UTF8.self)
            }
            self.init(id: id, files: files)
        }
    }

    /// The control directory inside the delta's tarball (removed before the release is complete).
    public static let controlDir = ".shipit-delta"

    /// Files sent, with every directory and symbolic link (a tarball restores those itself).
    public var send: [ReleaseTree.Entry]
    /// Per kept release: the paths copied from it.
    public var copies: [(id: String, paths: [String])]
    /// The copied files and every directory (the release's own `.` too) by archived mode: the
    /// copies get it as the tarball would give it, and a directory is made writable for the
    /// copies, then given its mode back.
    public var modes: [(mode: String, paths: [String])]
    /// The same, by modification time (`@seconds`): a copy keeps the artifact's, not the copy's,
    /// and a directory's own is set again after the copies into it.
    public var mtimes: [(mtime: String, paths: [String])]
    public var sentBytes: Int64
    public var copiedBytes: Int64
    public var copiedFiles: Int

    /// nil when a full upload is the better (or the only safe) choice: nothing to copy, under
    /// `minimumShare` of the bytes to copy, or names the line-based lists cannot carry.
    public static func plan(_ tree: ReleaseTree, kept: [Kept], minimumShare: Double = 0.2) -> DeltaPlan? {
        guard !kept.isEmpty else { return nil }
        guard tree.namesArePlain,
            !tree.entries.contains(where: { $0.path == "./" + controlDir || $0.path.hasPrefix("./" + controlDir + "/") }
            )
        else { return nil }
        var send: [ReleaseTree.Entry] = []
        var byRelease: [String: [String]] = [:]
        var byMode: [String: [String]] = [:]
        var byTime: [String: [String]] = [:]
        for e in tree.entries where e.kind == .directory {
            byMode[e.mode, default: []].append(e.path)
            byTime[e.mtime, default: []].append(e.path)
        }
        var sentBytes: Int64 = 0
        var copiedBytes: Int64 = 0
        for e in tree.entries {
            guard e.kind == .file, let from = kept.first(where: { $0.files[Array(e.path.utf8)] == e.digest }) else {
                send.append(e)
                sentBytes += e.size
                continue
            }
            byRelease[from.id, default: []].append(e.path)
            byMode[e.mode, default: []].append(e.path)
            byTime[e.mtime, default: []].append(e.path)
            copiedBytes += e.size
        }
        let copiedFiles = byRelease.values.reduce(0) { $0 + $1.count }
        guard copiedFiles > 0, Double(copiedBytes) >= minimumShare * Double(max(1, sentBytes + copiedBytes)) else {
            return nil
        }
        return DeltaPlan(
            send: send,
            copies: kept.compactMap { k in byRelease[k.id].map { (k.id, $0) } },
            modes: byMode.keys.sorted().map { ($0, byMode[$0]!) },
            mtimes: byTime.keys.sorted().map { ($0, byTime[$0]!) },
            sentBytes: sentBytes, copiedBytes: copiedBytes, copiedFiles: copiedFiles)
    }

    /// The control files, by name inside `controlDir`: `copy.<id>` (paths, one a line),
    /// `mode.<octal>`, `mtime.<seconds>`, `expected` (the whole release's manifest), and
    /// `read-only-dirs` when some directory is not writable by its owner.
    public func controlFiles(_ tree: ReleaseTree) -> [(name: String, text: String)] {
        copies.map { ("copy." + $0.id, $0.paths.map { $0 + "\n" }.joined()) }
            + modes.map { ("mode." + $0.mode, $0.paths.map { $0 + "\n" }.joined()) }
            + mtimes.map { ("mtime." + $0.mtime, $0.paths.map { $0 + "\n" }.joined()) }
            + [("expected", tree.manifest)]
            // A directory its owner cannot write takes no copy until the host unlocks it.
            + (tree.entries.contains { $0.kind == .directory && !Self.ownerWrites($0.mode) }
                ? [("read-only-dirs", "")] : [])
    }

    static func ownerWrites(_ mode: String) -> Bool {
        guard let m = Int(mode, radix: 8) else { return false }
        return m & 0o200 != 0
    }
}
