/// What a deploy ships: an artifact built on the deployer (symlink strategy) or an image tag
/// pulled on every host (image strategy).
public enum ReleaseInput: Sendable {
    case artifact(Artifact)
    case imageTag(String)
    /// An image by its content, named by the tag it was deployed as (`shipit sync`: the fleet's
    /// release, whatever the tag names today); `release` is the id it must resolve to.
    case imageDigest(tag: String, digest: String, release: String)

    /// The release id as far as it is known before pre-flight (an image's needs its digest).
    public var provisionalID: String {
        switch self {
        case .artifact(let a): return a.releaseID
        case .imageTag(let t), .imageDigest(let t, _, _): return t
        }
    }

    /// The tag an image release is named by (nil for an artifact).
    public var imageTagName: String? {
        switch self {
        case .artifact: return nil
        case .imageTag(let t), .imageDigest(let t, _, _): return t
        }
    }

    /// What every host pulls for image `name`: `name:tag`, or `name@digest` when pinned.
    public func imagePullReference(_ name: String) -> String? {
        switch self {
        case .artifact: return nil
        case .imageTag(let t): return "\(name):\(t)"
        case .imageDigest(_, let d, _): return "\(name)@\(d)"
        }
    }
}

/// A release ready to be staged: its id on every host, plus what staging needs.
public struct ResolvedRelease: Sendable {
    public var id: String
    public var input: ReleaseInput
    /// Image strategy: `name@sha256:…`, the content every host pulled.
    public var imageReference: String?
    public var imageDigest: String?

    public init(id: String, input: ReleaseInput, imageReference: String? = nil, imageDigest: String? = nil) {
        self.id = id
        self.input = input
        self.imageReference = imageReference
        self.imageDigest = imageDigest
    }
}

/// Staging on one host: files to upload first, then one script.
public struct StagePlan: Sendable {
    public struct Upload: Sendable, Equatable {
        public var localPath: String
        public var remotePath: String
        /// Says what failed when the upload does ("env file upload").
        public var label: String?
    }
    public var uploads: [Upload]
    public var command: RemoteCommand
}

/// Where a release's migrations are read from before anything changes.
public enum MigrationSource: Sendable {
    /// The artifact on the deployer (unpacked there).
    case artifact(path: String)
    /// Copied out of the pulled image on the migration host by this command.
    case remote(RemoteCommand)
}

/// One release strategy: every remote step of a deploy, a rollback and an inspection, as pure
/// builders returning `RemoteCommand`s. The state machine and its phases are the same for every
/// strategy; only these differ. `SymlinkStrategy` and `ImageStrategy` implement it.
public protocol ReleaseStrategy: Sendable {
    var layout: HostLayout { get }
    /// Which hosts run the app, and which role processes (a worker…) each runs.
    var roles: HostRoles { get }
    /// The step name staging has in the progress output and the ledger ("upload", "create").
    var stageStep: String { get }

    /// Checks, the lock, the current release (`current=`); for a deploy also what staging needs
    /// (free disk for the artifact; the image pulled, its `digest=`). `inventory` appends the
    /// inventory lines a rollback chooses its target from.
    func preflight(_ lock: LockRequest, deploying: ReleaseInput?, inventory: Bool, host: String) -> RemoteCommand
    /// After every host's pre-flight: the release to stage, or why not.
    func resolve(_ input: ReleaseInput, preflight: [String: ScriptOutput], hosts: [String]) throws(ShipitError)
        -> ResolvedRelease
    /// Staging on `host` (throws for a release this strategy cannot stage: resolve made it).
    func stage(_ release: ResolvedRelease, host: String) throws(ShipitError) -> StagePlan
    func migrationSource(_ release: ResolvedRelease, settings: MigrationSettings) throws(ShipitError)
        -> MigrationSource
    /// Where the migrate step reads the files: the release directory, or the copy taken out of the
    /// image into `.shipit/migrations-<id>/`.
    var migrationsFromImage: Bool { get }
    /// Whether a release is a directory of files on the host, which `shipit sync` can copy from
    /// one host to another (an image's release is pulled from its registry instead).
    var releaseFilesOnHost: Bool { get }
    /// Whether its processes read the release's environment from a container engine's
    /// `--env-file` (`.shipit/env/<id>.engine`, made on the host from the shell file that every
    /// host-side script reads).
    var containerEnvFile: Bool { get }
    /// Atomic switch to `releaseID` and start it; prints `previous=` and `switched=`.
    func switchTo(releaseID: String, host: String, historyLine: String) -> RemoteCommand
    /// The traffic switch's operations (warm-up on the idle slot, the proxy switch); nil without a
    /// traffic switch: a switch restarts the app in place.
    var slots: SlotOperations? { get }
    /// Whether a deploy's pre-flight can carry the artifact on its channel (`preflightCarrying`).
    var preflightCarriesArtifact: Bool { get }
    /// Who keeps what the strategy starts running, where it is shipit's to set up (systemd units,
    /// docs/supervision.md); nil: nobody (`supervisor: none`), or the strategy's own engine.
    var supervisor: Supervision? { get }
    /// A pre-flight whose channel also carries the artifact (then its extraction, and with `warm`
    /// the warm-up on the idle slot): one exec per host instead of two; nil for a strategy that
    /// ships no artifact.
    func preflightCarrying(_ lock: LockRequest, artifact: Artifact, warm: Bool, host: String) -> RemoteCommand?
    /// The commands a deploy runs on `host`, with what needs each (`shipit check`).
    func requiredTools(host: String) -> [(tool: String, why: String)]
    /// A first deploy that failed after its switch: there is no release to go back to. The app of
    /// `releaseID` is stopped and `current` taken away (with the traffic switch, the proxy serves no
    /// slot), so nothing half-started keeps serving; prints `retreated=` and `stopped=yes|no`.
    func retreat(releaseID: String, host: String, historyLine: String) -> RemoteCommand
    /// After success: prune (never current or `previous`), release the lock.
    func finish(previous: String?, holder: String, historyLine: String?) -> RemoteCommand
    /// A release that failed: kept and marked for inspection, or removed when it never went live;
    /// then the lock is released.
    func abandon(releaseID: String, keepForInspection: Bool, holder: String, historyLine: String?, host: String)
        -> RemoteCommand
    func unlock(holder: String, historyLine: String?) -> RemoteCommand
    /// `current=`, `release=` (oldest first), `failed=`, `lock.*=` lines.
    func inventory(host: String) -> RemoteCommand
    /// The inventory plus what `status`/`verify`/`changes` need (file check, container state,
    /// history lines), in one script.
    func inspect(verify: Bool, historyLines: Int, host: String) -> RemoteCommand
    func forceUnlock() -> RemoteCommand
    /// The smoke test of `host`'s role processes, retried until `deadline` (nil: it runs none).
    func roleCheck(host: String, deadline: Double, interval: Double) -> RemoteCommand?
    /// The release a rollback goes to, or why there is none.
    func rollbackTarget(requested: String?, hosts: [String], inventory: [String: ScriptOutput], currents: [String]) -> (
        String?, String?
    )
}

/// The traffic switch's steps, for a strategy that has one (`ReleaseStrategy.slots`).
public protocol SlotOperations: Sendable {
    var traffic: TrafficSwitch { get }
    /// Starts the release on the idle `slot` (kept if it already runs it and `reuse`), without
    /// giving it traffic.
    func warm(releaseID: String, host: String, slot: Int, reuse: Bool) -> RemoteCommand
    /// Points the proxy at `slot`, which runs `releaseID`.
    func switchTraffic(releaseID: String, host: String, slot: Int, historyLine: String) -> RemoteCommand
}

extension ReleaseStrategy {
    /// The traffic switch in front of two slots (nil: a switch restarts the app in place).
    public var traffic: TrafficSwitch? { slots?.traffic }

    public var preflightCarriesArtifact: Bool { false }
    public var supervisor: Supervision? { nil }

    public func preflightCarrying(_ lock: LockRequest, artifact: Artifact, warm: Bool, host: String)
        -> RemoteCommand?
    { nil }

    public func unlock(holder: String, historyLine: String?) -> RemoteCommand {
        HostScript.unlock(layout: layout, holder: holder, historyLine: historyLine, timeout: nil).command
    }

    public func forceUnlock() -> RemoteCommand { HostScript.forceUnlock(layout: layout, timeout: nil).command }

    /// `shipit maintenance on|off`: the proxy answers 503 with Retry-After and the message.
    public func maintenance(host: String, on: Bool, message: String, retryAfter: Int, historyLine: String)
        -> RemoteCommand?
    {
        guard let traffic else { return nil }
        let conf = on ? TrafficSwitch.maintenanceConf(message: message, retryAfter: retryAfter) : ""
        let (vars, body) = traffic.maintenance(host: host, conf: conf)
        return HostScript(
            .maintenance, layout: layout, timeout: 60, variables: vars + [("HISTORY_LINE", historyLine)],
            uses: TrafficSwitch.functions, body
        ).command
    }

    public func rollbackTarget(
        requested: String?, hosts: [String], inventory: [String: ScriptOutput], currents: [String]
    ) -> (String?, String?) {
        RollbackTarget.choose(hosts: hosts, requested: requested, inventory: inventory, currents: currents)
    }
}

public enum Strategies {
    /// The strategy `config` names.
    public static func make(_ config: DeployConfig) -> ReleaseStrategy {
        if config.strategy == .image, let image = config.image { return ImageStrategy(config: config, image: image) }
        return SymlinkStrategy(config: config)
    }
}
