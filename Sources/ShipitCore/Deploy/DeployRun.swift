import FoundationEssentials

/// Where a run stands: the state machine, every host's state, and what earlier phases found out
/// for later ones. The driver owns the one copy that counts and changes it only by applying the
/// `RunChange`s a phase returns; a phase works on its own copy (see `PhaseRun`).
struct DeployRun: Sendable {
    var machine = DeployStateMachine()
    var hosts: RunState
    /// The ledger's record of this attempt, once opened (nil without a ledger).
    var recorder: AttemptRecorder?
    /// Before pre-flight resolves the release: the id the input will give, if it is known already.
    let provisionalID: String?
    /// Once pre-flight resolved it (or the paused rollout's): the release this run ships.
    var release: ResolvedRelease?
    /// Rollback: the release asked for with `--to`; after pre-flight, the target chosen.
    var rollbackTo: String?
    /// Hosts whose pre-flight also received and extracted the artifact (one channel), with what
    /// their script reported; staging has nothing left to do there.
    var stagedInPreflight: [String: ScriptOutput] = [:]
    /// The releases each host keeps that a delta may copy from (its pre-flight's `kept=` lines),
    /// the current one first: `(id, sha256 of its manifest)`.
    var kept: [String: [(id: String, manifest: String)]] = [:]
    /// Hosts whose pre-flight or staging script went on to start the release on the idle slot
    /// (`warm.exit=` in its output): the warm-up records that and only probes the slot.
    var warmedEarly: [String: WarmPhase.EarlyStart] = [:]
    /// A rollback's smoke test of each host it switched, made as soon as that host's switch was
    /// done (no host waits for the slowest one's switch); the smoke test phase records them.
    var smokeTestedWithSwitch: [String: StepResult] = [:]
    /// Migrations this run will apply (found in pre-flight from the database's record).
    var pendingMigrations: [MigrationSet.File] = []
    /// The hosts of each rollout step, in the config's order (one step of every host without
    /// `rollout`, and for a rollback).
    var stepPlan: [[String]] = []
    /// Request steps (0-based) and the share of requests each sends to the new release.
    var requestShares: [Int: Int] = [:]
    /// What the proxy measured in each request step (0-based): the canary against the baseline.
    var requestComparisons: [Int: RequestComparison] = [:]
    /// The rollout step last announced (a step's warm-up and switch are one step).
    var announcedStep = -1
    /// Why a bake failed: the gate sample over its limit.
    var failedGate: GateSample?
    /// `--deadline`: when the run must stop.
    var deadlineAt: ContinuousClock.Instant?

    /// A run of `request` on `hosts` (the config's, in its order), before anything happened.
    init(hosts order: [String], request: RunRequest) {
        hosts = RunState(hosts: order)
        switch request {
        case .deploy(let input): provisionalID = input.provisionalID
        case .rollback(let to):
            provisionalID = nil
            rollbackTo = to
        case .resume(let attempt, _):
            provisionalID = nil
            // Staged on every host before the pause.
            release = ResolvedRelease(
                id: attempt.releaseID, input: .imageTag(attempt.releaseID), imageDigest: attempt.imageDigest)
        }
    }

    /// The release this run switches to (known after pre-flight).
    var targetID: String { release?.id ?? rollbackTo ?? provisionalID ?? "" }

    /// The hosts of the step running now.
    var stepHosts: [String] { stepPlan.indices.contains(machine.step) ? stepPlan[machine.step] : hosts.order }

    /// The hosts of the step running now that the run moves to its release. A rollback leaves a
    /// host that already serves its target alone: no restart for nothing, and with the traffic
    /// switch its warm standby is kept (starting the target on the idle slot would replace it).
    var movingHosts: [String] {
        machine.operation == .rollback ? stepHosts.filter { hosts[$0]?.current != targetID } : stepHosts
    }

    /// The share of requests this step sends to the new release (nil: a host step).
    var requestShare: Int? { requestShares[machine.step] }

    /// Every host of the steps started so far: the ones this release may have reached.
    var reachedHosts: [String] { reachedHosts(through: machine.step) }

    /// Each host once (a request step's hosts are switched in the step after it).
    func reachedHosts(through step: Int) -> [String] {
        var seen = Set<String>()
        return stepPlan.prefix(step + 1).flatMap { $0 }.filter { seen.insert($0).inserted }
    }
}

/// One change a phase makes to the run, returned in its `PhaseResult` for the driver to apply.
/// A phase applies each to its own copy as it goes too, so its later steps see them.
enum RunChange: Sendable {
    case hostFailed(String, step: String, error: String?)
    case allFailed(step: String, error: String)
    /// Pre-flight read the host's current release.
    case found(String, current: String?)
    case foundSlots(String, active: Int?, standby: String?, standbySlot: Int?)
    case restored(String, previous: String?, switchedAt: Date?)
    case locked(String)
    /// The closing scripts released every lock this run held.
    case unlockedAll
    case lockHeld
    case sharedLockTaken
    case switched(String, to: String, slot: Int?, at: Date)
    case switchUnknown(String, to: String)
    case explainUnknown(String)
    case retreated(String, from: String, stopped: Bool)
    case release(ResolvedRelease)
    case rollbackTarget(String)
    case pendingMigrations([MigrationSet.File])
    case stagedInPreflight(String, ScriptOutput)
    case kept(String, [(id: String, manifest: String)])
    case warmedEarly(String, WarmPhase.EarlyStart)
    case smokeTestedWithSwitch(String, StepResult)
    case failedGate(GateSample)
    /// A request step's split on a host: the share of its requests the new release gets (0: the
    /// split sent back).
    case split(String, share: Int)
    /// What a request step's proxy gate measured last (0-based step).
    case requestMeasured(step: Int, RequestComparison)
    /// A contract migration ran: no automatic rollback from here on.
    case forbidRollback
}

extension DeployRun {
    mutating func apply(_ change: RunChange) {
        switch change {
        case .hostFailed(let host, let step, let error): hosts.fail(host: host, step: step, error: error)
        case .allFailed(let step, let error): hosts.failAll(step: step, error: error)
        case .found(let host, let current): hosts.found(host: host, current: current)
        case .foundSlots(let host, let active, let standby, let standbySlot):
            hosts.foundSlots(host: host, active: active, standby: standby, standbySlot: standbySlot)
        case .restored(let host, let previous, let switchedAt):
            hosts.restore(host: host, previous: previous, switchedAt: switchedAt)
        case .locked(let host): hosts.locked.insert(host)
        case .unlockedAll: hosts.locked.removeAll()
        case .lockHeld: hosts.lockHeld = true
        case .sharedLockTaken: hosts.sharedLockTaken = true
        case .switched(let host, let id, let slot, let at): hosts.switched(host: host, to: id, slot: slot, at: at)
        case .switchUnknown(let host, let id): hosts.switchUnknown(host: host, to: id)
        case .explainUnknown(let host): hosts.explainUnknown(host: host)
        case .retreated(let host, let id, let stopped): hosts.retreated(host: host, from: id, stopped: stopped)
        case .release(let r): release = r
        case .rollbackTarget(let id): rollbackTo = id
        case .pendingMigrations(let files): pendingMigrations = files
        case .stagedInPreflight(let host, let out): stagedInPreflight[host] = out
        case .kept(let host, let releases): kept[host] = releases
        case .warmedEarly(let host, let early): warmedEarly[host] = early
        case .smokeTestedWithSwitch(let host, let r): smokeTestedWithSwitch[host] = r
        case .failedGate(let sample): failedGate = sample
        case .split(let host, let share): hosts.split(host: host, share: share)
        case .requestMeasured(let step, let c): requestComparisons[step] = c
        case .forbidRollback: machine.forbidRollback()
        }
    }
}
