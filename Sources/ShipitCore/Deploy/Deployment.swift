import FoundationEssentials

/// One run of shipit that changes hosts: a deploy or a manual rollback. Each entry point makes the
/// run's context (`DeployContext`: what the run cannot change, with its request) and hands it to a
/// `RunDriver`, which owns the run's state (`DeployRun`) and drives the state machine.
///
/// The transport is the caller's: whoever opened the fleet's connections closes them.
public final class Deployment: Sendable {
    public struct Options: Sendable {
        public var lockWaitSeconds = 0
        public var autoRollback = true
        public var reason = "deploy"
        /// Lock holders (attempt ids) known to be dead: their locks are taken over, with a notice.
        public var staleHolders: [String] = []
        /// The release's migrations, when already read on the deployer (else read from the release).
        public var migrations: MigrationSet?
        /// Apply contract (rollback-unsafe) migrations instead of refusing them.
        public var allowContract = false
        /// Roll back past a rollback-unsafe release anyway (manual rollback), or auto-roll back after
        /// applying a contract migration.
        public var force = false
        /// A paused rollout picked up again keeps its attempt id (the lock holder on every host).
        public var attemptID: String?
        /// `--deadline`: seconds the run may take before it stops and rolls back what it switched.
        public var deadline: Double?
        /// Hosts left out because they could not be reached (within `tolerate.unreachable`).
        public var skipped: [SkippedHost] = []
        public init() {}
    }

    /// The context of a run of `request`: everything else is fixed when the deployment is made.
    let context: @Sendable (RunRequest) -> DeployContext
    /// The attempt id: also the lock holder id and the `attempt` of host history lines.
    public let attemptID: String

    public init(
        config: DeployConfig, transport: HostTransport, options: Options = Options(),
        interrupt: InterruptFlag = InterruptFlag(), ledger: Ledger? = nil, invoker: Invoker = .current(),
        redactor: Redactor? = nil, notify: @escaping @Sendable (DeployNotice) -> Void
    ) {
        let redactor = redactor ?? Redactor(config: config)
        let attemptID = options.attemptID ?? AttemptID.make()
        self.attemptID = attemptID
        let strategy = Strategies.make(config)
        let hooks = Hooks(directory: config.hooksDir)
        context = { request in
            DeployContext(
                config: config, transport: transport, options: options, notify: { notify($0.redacted(by: redactor)) },
                interrupt: interrupt, strategy: strategy, attemptID: attemptID, hooks: hooks, ledger: ledger,
                invoker: invoker, redactor: redactor, request: request)
        }
    }

    // MARK: entry points

    /// `shipit deploy`: the whole state machine for one release.
    public func deploy(_ input: ReleaseInput) async -> DeployReport {
        var driver = RunDriver(context(.deploy(input)))
        return await driver.drive(.deploy)
    }

    public func deploy(_ artifact: Artifact) async -> DeployReport { await deploy(.artifact(artifact)) }

    /// `shipit deploy --tag T` (strategy image).
    public func deployImage(tag: String) async -> DeployReport { await deploy(.imageTag(tag)) }

    /// `shipit rollback [--to ID]`: every host back to one release, with the same smoke test. With no
    /// target: the newest release older than what runs now that is present on *all* hosts and not
    /// marked failed.
    public func rollback(to requested: String?) async -> DeployReport {
        var driver = RunDriver(context(.rollback(to: requested)))
        return await driver.drive(.rollback)
    }

    /// `shipit rollout promote|abort`: picks up a paused rollout (`attempt`, recorded with each
    /// host's step and switch time) under its own attempt id: the next step, or a rollback of the
    /// hosts switched so far. Its release is already staged on every host.
    public func resume(_ attempt: LedgerAttempt, _ mode: DeployStateMachine.Resume) async -> DeployReport {
        precondition(attempt.id == attemptID, "a resumed rollout keeps its attempt id (Options.attemptID)")
        var driver = RunDriver(context(.resume(attempt, mode)))
        return await driver.drive(.deploy)
    }

    /// A recorded rollout's steps with their request shares: its `plan` event; without one, its
    /// hosts grouped by the step each was switched in, and a request step (recorded by its `rollout` event, "step K/N starts: S % of
    /// requests") splits the hosts of the host step after it.
    static func plannedSteps(of attempt: LedgerAttempt, order: [String], events: [LedgerStep])
        -> [RolloutSettings.PlannedStep]
    {
        if let record = RolloutPlanRecord.find(in: events) { return record.steps }
        // Recorded before plans were: from the hosts' steps and the request steps that started.
        let shares = requestShares(in: events)
        let groups = stepPlan(of: attempt, order: order)
        let numbers = Set(attempt.hosts.compactMap(\.rolloutStep)).sorted()
        let byNumber = Dictionary(uniqueKeysWithValues: zip(numbers, groups))
        let last = max(numbers.last ?? 0, shares.keys.max() ?? 0)
        var out: [RolloutSettings.PlannedStep] = []
        for n in stride(from: 1, through: last, by: 1) {
            if let share = shares[n] {
                let next = numbers.first { $0 > n }.flatMap { byNumber[$0] } ?? []
                out.append(.init(hosts: next, share: share))
            } else if let hosts = byNumber[n] {
                out.append(.init(hosts: hosts, share: nil))
            }
        }
        return out
    }

    /// The step (1-based) a paused or dead rollout got to: the last one whose "step K/N starts"
    /// event was recorded (a request step switches no host), or whose hosts switched.
    static func pausedAfter(_ attempt: LedgerAttempt, events: [LedgerStep]) -> Int {
        max(
            startedSteps(in: events).keys.max() ?? 0,
            attempt.hosts.filter { $0.switchedAt != nil }.compactMap(\.rolloutStep).max() ?? 0)
    }

    /// Step number (1-based) → share, from the rollout's "step K/N starts: S % of requests" events.
    static func requestShares(in events: [LedgerStep]) -> [Int: Int] {
        startedSteps(in: events).compactMapValues { $0 }
    }

    /// Every step a rollout's "step K/N starts: …" events say started (1-based), with its share
    /// of requests (nil: a host step).
    static func startedSteps(in events: [LedgerStep]) -> [Int: Int?] {
        var out: [Int: Int?] = [:]
        for e in events where e.step == "rollout" {
            guard let m = e.message, m.hasPrefix("step "), let slash = m.firstIndex(of: "/"),
                let k = Int(m[m.index(m.startIndex, offsetBy: 5)..<slash]), let starts = m.firstRange(of: " starts: ")
            else { continue }
            let pct = m[starts.upperBound...].firstRange(of: " % of requests")
            out[k] = pct.flatMap { Int(m[starts.upperBound..<$0.lowerBound]) }
        }
        return out
    }

    /// A recorded rollout's steps: its hosts grouped by the step each was planned in, in `order`.
    static func stepPlan(of attempt: LedgerAttempt, order: [String]) -> [[String]] {
        let steps = Dictionary(
            uniqueKeysWithValues: attempt.hosts.compactMap { h in h.rolloutStep.map { (h.host, $0) } })
        let ordered =
            order.filter { steps[$0] != nil }
            + attempt.hosts.map(\.host).filter { !order.contains($0) && steps[$0] != nil }
        return Set(steps.values).sorted().map { n in ordered.filter { steps[$0] == n } }
    }
}
