import FoundationEssentials
import SSH

/// The release tarball, built once on the deployer and uploaded once per host.
public struct Artifact: Sendable {
    public enum Source: Sendable, Equatable {
        case directory(String)
        case git(repo: String, ref: String)
    }

    public let path: String
    public let sha256: String
    /// Whether `path` is gzip'd; a release gzip barely shrinks goes as plain tar (hosts skip
    /// `gzip -d`). Both are read by `tar -xf`, which sees which it is.
    public var zipped = true
    public let size: Int64
    public let releaseID: String
    public let source: Source
    /// For git sources: the resolved commit.
    public let commit: String?
    /// Its symbolic and hard links (checked against `shared:`, and told to the hosts' staging).
    public var links = ArtifactLinks()
    /// Every member with its sha256, read from the tar stream as it was built (nil when the stream
    /// held something `TarIndex` does not read): what a delta is planned from, and the manifest a
    /// full upload carries so hosts need not hash the release again.
    public var tree: ReleaseTree?
    /// The tree's manifest (`sha256sum` lines) that a full upload carries, written next to the
    /// artifact; nil when none is carried (`carriesManifest`, or a name that does not fit a line).
    public var manifest: Manifest?

    public struct Manifest: Sendable, Equatable {
        public let path: String
        /// Checked by the host before it trusts the file.
        public let sha256: String
    }

    /// A full upload carries the manifest above this size; below it, hashing on the host costs less
    /// than a second file.
    public static let manifestSentAbove: Int64 = 2 << 20

    /// Whether a full upload carries the manifest: a big artifact, whose manifest is small beside
    /// it (a release of many small files has a manifest as big as its files' bytes).
    public static func carriesManifest(artifactSize: Int64, manifestSize: Int64) -> Bool {
        artifactSize > manifestSentAbove && manifestSize * 16 <= artifactSize
    }

    /// Builds a reproducible tarball (sorted names, fixed owner and mtime) so the same tree gives the
    /// same hash, and names the release `YYYYMMDDTHHMMSSZ-<hash8>`: sortable, unique, one id for all hosts.
    public static func build(from source: Source, workDir: String, now: Date = Date()) throws -> Artifact {
        let out = workDir + "/release.tar.gz"
        // tar writes into a FIFO that the compressor reads: no uncompressed copy on disk.
        let tar = workDir + "/release.tar.fifo"
        let archive: [String]
        var commit: String?
        switch source {
        case .directory(let dir):
            guard FilePath.isDirectory(dir) else {
                throw ShipitError.input("--from: \(dir) is not a directory")
            }
            // No setuid/setgid bit ever reaches a host (a tar other than GNU's, extracting as root,
            // would keep it).
            if FileManager.default.fileExists(atPath: FilePath.join(dir, ignoreFile)) {
                let list = workDir + "/shipped.list"
                try shippedPaths(in: dir).map { $0 + "\0" }.joined().write(
                    toFile: list, atomically: true, encoding: .utf8)
                // tar's own status counts (not a pipeline's last command's): a file that vanished
                // or could not be read fails the build.
                archive = [
                    "tar", "--no-recursion", "--null", "--mtime=@0", "--owner=0", "--group=0", "--numeric-owner",
                    "--mode=ug-s", "-C", dir, "-T", list, "-cf", tar,
                ]
            } else {
                archive = [
                    "tar", "--sort=name", "--exclude=.git", "--exclude=./.shipit", "--mtime=@0", "--owner=0",
                    "--group=0", "--numeric-owner",
                    "--mode=ug-s", "-C", dir, "-cf", tar, ".",
                ]
            }
        case .git(let repo, let ref):
            let resolved = try Self.commit(ref, in: repo)
            commit = resolved
            archive = ["git", "-C", repo, "archive", "--format=tar", "--output=\(tar)", resolved]
        }
        // gzip where it shrinks the release, stored where it does not (media, bundles).
        var index = TarIndex()
        let plain = workDir + "/release.tar"
        let packed = try AdaptiveGzip.compress(from: archive, through: tar, to: out, plain: plain) {
            index.feed($0)
        }
        index.finish()
        var sha = packed.sha256
        var path = out
        if AdaptiveGzip.notWorthUnpacking(packed) {
            path = plain
            if let kept = packed.plainSHA256 {
                sha = kept
            } else {
                // Our own stream inflated: exactly the bytes tar wrote, with nothing read again.
                sha = try AdaptiveGzip.decompress(file: out, to: path)
            }
            try? FileManager.default.removeItem(atPath: out)
        }
        let size = FilePath.size(of: path) ?? 0
        let indexed = index.result
        var manifest: Manifest?
        // Only a big artifact's is ever carried: a small one's is not even written.
        if size > manifestSentAbove, let tree = indexed?.tree, tree.namesArePlain {
            let text = Data(tree.manifest.utf8)
            if carriesManifest(artifactSize: size, manifestSize: Int64(text.count)) {
                let at = workDir + "/release.manifest"
                try text.write(to: URL(fileURLWithPath: at))
                manifest = Manifest(path: at, sha256: try Digest.sha256Hex(text))
            }
        }
        return Artifact(
            path: path, sha256: sha, zipped: path == out, size: size, releaseID: releaseID(now: now, sha256: sha),
            source: source, commit: commit,
            links: try indexed?.links ?? ArtifactLinks.read(tarball: path), tree: indexed?.tree, manifest: manifest)
    }

    /// The commit `ref` names in `repo`, or an input error naming `--ref`.
    public static func commit(_ ref: String, in repo: String) throws -> String {
        // An option-looking ref or a range (`a..b`, `a...b`) is never one commit.
        guard !ref.isEmpty, !ref.hasPrefix("-"), !ref.contains("..") else {
            throw ShipitError.input("--ref: \(ref) is not a valid git ref")
        }
        do {
            return try LocalProcess.run(["git", "-C", repo, "rev-parse", "--verify", "\(ref)^{commit}"]).trimmed()
        } catch {
            throw ShipitError.input("--ref: \(ref) is not a commit in \(repo)")
        }
    }

    /// A release's files taken from a host (`shipit sync`), keeping that release's id.
    public static func copied(path: String, releaseID: String, from origin: String) throws -> Artifact {
        Artifact(
            path: path, sha256: try Digest.sha256Hex(file: path), size: FilePath.size(of: path) ?? 0,
            releaseID: releaseID, source: .directory(origin), commit: nil, links: try ArtifactLinks.read(tarball: path))
    }

    /// The file in the `--from` directory that says what is not shipped, in gitignore syntax.
    public static let ignoreFile = ".shipitignore"

    /// What a `--from` directory with a `.shipitignore` ships: every file and link git would call
    /// untracked-and-not-ignored under those patterns alone (the project's `.gitignore` often
    /// leaves out build output that is exactly what ships), never `.git` or `.shipit/`, plus the
    /// directories above them; sorted, so the same tree gives the same tarball. Git itself reads
    /// the patterns, so they mean what they mean to git (negation, anchoring, `**`). Empty
    /// directories are not shipped, as git does not track them.
    static func shippedPaths(in dir: String) throws -> [String] {
        // Absolute: git reads a relative --work-tree against -C's directory.
        let root = dir.hasPrefix("/") ? dir : FilePath.join(FileManager.default.currentDirectoryPath, dir)
        let gitDir = FilePath.temporaryDirectory + "/shipit-ignore-\(UInt64.random(in: 0...UInt64.max))"
        defer { try? FileManager.default.removeItem(atPath: gitDir) }
        let listed: String
        do {
            try LocalProcess.run(["git", "init", "-q", "--bare", gitDir])
            listed = try LocalProcess.run([
                "git", "--git-dir=\(gitDir)", "--work-tree=\(root)", "-C", root, "ls-files", "--others", "-z",
                "--exclude-from=\(FilePath.join(root, ignoreFile))", "--exclude=/.shipit/",
            ])
        } catch {
            throw ShipitError.input(
                "--from: \(FilePath.join(dir, ignoreFile)) needs git on this machine to read it: \(ErrorText.withoutHost(error))"
            )
        }
        var files: [String] = []
        for entry in listed.split(separator: "\0").map(String.init) {
            guard entry.hasSuffix("/") else {
                files.append(entry)
                continue
            }
            // A repository inside the tree (a vendored checkout): git lists it whole and does not
            // look inside; it ships whole, but for its .git.
            let sub = String(entry.dropLast())
            files.append(sub)
            let inside = (try? FileManager.default.subpathsOfDirectory(atPath: FilePath.join(root, sub))) ?? []
            files += inside.filter { !$0.split(separator: "/").contains(".git") }.map { sub + "/" + $0 }
        }
        var paths = Set<String>()
        for file in files {
            paths.insert(file)
            var parent = FilePath.directory(of: file)
            while !parent.isEmpty, parent != ".", paths.insert(parent).inserted {
                parent = FilePath.directory(of: parent)
            }
        }
        return paths.sorted { Array($0.utf8).lexicographicallyPrecedes(Array($1.utf8)) }
    }

    public static func releaseID(now: Date, sha256: String) -> String {
        UTCTime.compact(now, milliseconds: true) + "-" + sha256.prefix(8)
    }
}
