import FoundationEssentials
import SSH

/// What `shipit deploy` was asked to ship, checked against the config's strategy before anything
/// else: a directory or a git ref (symlink, built into an artifact here) or an image tag.
public struct DeployRequest: Sendable {
    /// `placeholder`: a dry run given no source, which checks the config and shows the plan with
    /// `<release>` for what --from/--ref/--tag would give.
    enum Kind: Sendable {
        case directory(String)
        case git(ref: String)
        case tag(String)
        case placeholder(image: Bool)
    }
    let kind: Kind

    public init(strategy: DeployConfig.Strategy, from: String?, ref: String?, tag: String?, dryRun: Bool = false) throws
    {
        if dryRun, from == nil, ref == nil, tag == nil {
            kind = .placeholder(image: strategy.deploysImageTag)
            return
        }
        if strategy.deploysImageTag {
            guard let tag, from == nil, ref == nil else {
                throw ShipitError.input("--tag: strategy image deploys an image tag (--tag v2), not --from/--ref")
            }
            guard tag.count <= 128, tag.wholeMatch(of: #/[A-Za-z0-9_][A-Za-z0-9._-]*/#) != nil else {
                throw ShipitError.input("--tag: '\(tag)' is not a valid image tag")
            }
            kind = .tag(tag)
            return
        }
        guard tag == nil else {
            throw ShipitError.input(
                "--tag: only for strategy image; this config uses symlink (--from DIR or --ref GITREF)")
        }
        guard (from == nil) != (ref == nil) else {
            throw ShipitError.input("give exactly one of --from DIR or --ref GITREF")
        }
        kind = from.map { .directory($0) } ?? .git(ref: ref!)
        // Here, before any host is contacted: a typo is named at once.
        if let from, !FilePath.isDirectory(from) {
            throw ShipitError.input("--from: \(from) is not a directory")
        }
        if let ref { _ = try Artifact.commit(ref, in: FileManager.default.currentDirectoryPath) }
    }

    /// Calls `body` with the release input; an artifact is built in a temporary directory that is
    /// removed afterwards.
    public func withInput<T>(_ body: (ReleaseInput) async throws -> T) async throws -> T {
        let source: Artifact.Source
        switch kind {
        case .tag(let tag): return try await body(.imageTag(tag))
        case .placeholder(image: true): return try await body(.imageTag("<tag>"))
        case .placeholder:
            return try await body(
                .artifact(
                    Artifact(
                        path: "<artifact>", sha256: "<sha256>", size: 0, releaseID: "<release>",
                        source: .directory("<dir>"), commit: nil)))
        case .directory(let dir): source = .directory(dir)
        case .git(let ref): source = .git(repo: FileManager.default.currentDirectoryPath, ref: ref)
        }
        let work = FilePath.temporaryDirectory + "/shipit-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: work, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: work) }
        return try await body(.artifact(try Artifact.build(from: source, workDir: work)))
    }

    /// The first progress line.
    public func describe(_ input: ReleaseInput, config: DeployConfig) -> String {
        switch input {
        case .artifact(let a):
            return
                "\(config.app) release \(a.releaseID) (\(a.size) bytes, sha256 \(a.sha256.prefix(12))) to \(config.hosts.count) host(s)"
        case .imageTag, .imageDigest:
            return "\(config.app) image \(reasonName(input, config: config)) to \(config.hosts.count) host(s)"
        }
    }

    /// What the lock file says is being deployed.
    public func reasonName(_ input: ReleaseInput, config: DeployConfig) -> String {
        switch input {
        case .artifact(let a): return a.releaseID
        case .imageTag, .imageDigest: return input.imagePullReference(config.image?.name ?? "") ?? ""
        }
    }
}
