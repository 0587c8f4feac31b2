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
    public let size: Int64
    public let releaseID: String
    public let source: Source
    /// For git sources: the resolved commit.
    public let commit: String?
    /// Its symbolic and hard links (checked against `shared:`, and told to the hosts' staging).
    public var links = ArtifactLinks()

    /// Builds a reproducible tarball (sorted names, fixed owner and mtime) so the same tree gives the
    /// same hash, and names the release `YYYYMMDDTHHMMSSZ-<hash8>`: sortable, unique, one id for all hosts.
    public static func build(from source: Source, workDir: String, now: Date = Date()) throws -> Artifact {
        let out = workDir + "/release.tar.gz"
        var commit: String?
        switch source {
        case let .directory(dir):
            guard FilePath.isDirectory(dir) else {
                throw ShipitError.input("--from: \(dir) is not a directory")
            }
            // No setuid/setgid bit ever reaches a host (a tar other than GNU's, extracting as root,
            // would keep it).
            try LocalProcess.run(["sh", "-c", "tar --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner --mode=ug-s -C \"$1\" -cf - . | gzip -n > \"$2\"", "tar", dir, out])
        case let .git(repo, ref):
            // An option-looking ref or a range (`a..b`, `a...b`) is never one commit.
            guard !ref.isEmpty, !ref.hasPrefix("-"), !ref.contains("..") else {
                throw ShipitError.input("--ref: \(ref) is not a valid git ref")
            }
            do {
                commit = try LocalProcess.run(["git", "-C", repo, "rev-parse", "--verify", "\(ref)^{commit}"]).trimmed()
            } catch {
                throw ShipitError.input("--ref: \(ref) is not a commit in \(repo)")
            }
            try LocalProcess.run(["sh", "-c", "git -C \"$1\" archive --format=tar \"$2\" | gzip -n > \"$3\"", "git", repo, commit!, out])
        }
        let sha = try Digest.sha256Hex(file: out)
        let size = FilePath.size(of: out) ?? 0
        return Artifact(path: out, sha256: sha, size: size, releaseID: releaseID(now: now, sha256: sha), source: source, commit: commit,
                        links: try ArtifactLinks.read(tarball: out))
    }

    public static func releaseID(now: Date, sha256: String) -> String {
        UTCTime.compact(now, milliseconds: true) + "-" + sha256.prefix(8)
    }
}
