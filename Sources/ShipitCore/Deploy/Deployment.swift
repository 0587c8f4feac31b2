import FoundationEssentials

/// One run of shipit that changes hosts: a deploy or a manual rollback. The state machine drives
/// it: `drive()` asks the machine for the phase to run, runs that phase's runner, and reports how
/// it went; the machine alone decides what comes next. Per-host outcomes live in one `RunState`.
/// Every transition and step goes to the ledger as it happens (when one is given).
///
/// The transport is the caller's: whoever opened the fleet's connections closes them.
public final class Deployment: @unchecked Sendable {
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
        public init() {}
    }

    let config: DeployConfig
    let transport: HostTransport
    let options: Options
    let notify: @Sendable (DeployNotice) -> Void
    let interrupt: InterruptFlag
    let strategy: ReleaseStrategy
    /// The attempt id: also the lock holder id and the `attempt` of host history lines.
    public let attemptID: String
    let hooks: Hooks
    let ledger: Ledger?
    let invoker: Invoker
    let redactor: Redactor
    var recorder: AttemptRecorder?

    // Owned by `drive` (phases run hosts in parallel but merge results here, one phase at a time).
    var machine = DeployStateMachine()
    var state: RunState
    /// What this run deploys (nil for a rollback) and, once pre-flight resolved it, the release.
    var input: ReleaseInput?
    var release: ResolvedRelease?
    /// Hosts whose pre-flight also received and extracted the artifact (one channel), with what
    /// their script reported; staging has nothing left to do there.
    var stagedInPreflight: [String: ScriptOutput] = [:]
    /// Hosts whose pre-flight or staging script went on to start the release on the idle slot
    /// (`warm.exit=` in its output): the warm-up records that and only probes the slot.
    var warmedEarly: [String: WarmPhase.EarlyStart] = [:]
    /// Rollback: the release asked for with `--to`; after pre-flight, the target chosen.
    var rollbackTo: String?
    /// Migrations this run will apply (set in pre-flight from the database's record).
    var pendingMigrations: [MigrationSet.File] = []
    /// The hosts of each rollout step, in the config's order (one step of every host without
    /// `rollout`, and for a rollback).
    var stepPlan: [[String]] = []
    /// The rollout step last announced (a step's warm-up and switch are one step).
    var announcedStep = -1
    /// Why a bake failed: the gate sample over its limit.
    var failedGate: GateSample?
    /// `--deadline`: when the run must stop.
    var deadlineAt: ContinuousClock.Instant?
    /// `shipit rollout promote|abort`: the paused rollout this run picks up, and what to do.
    var resumed: (attempt: LedgerAttempt, mode: DeployStateMachine.Resume)?

    public init(
        config: DeployConfig, transport: HostTransport, options: Options = Options(),
        interrupt: InterruptFlag = InterruptFlag(), ledger: Ledger? = nil, invoker: Invoker = .current(),
        redactor: Redactor? = nil, notify: @escaping @Sendable (DeployNotice) -> Void
    ) {
        let redactor = redactor ?? Redactor(config: config)
        self.config = config
        self.transport = transport
        self.options = options
        self.notify = { notify($0.redacted(by: redactor)) }
        self.interrupt = interrupt
        self.strategy = Strategies.make(config)
        self.hooks = Hooks(directory: config.hooksDir)
        self.ledger = ledger
        self.invoker = invoker
        self.redactor = redactor
        self.attemptID = options.attemptID ?? AttemptID.make()
        self.state = RunState(hosts: config.hosts)
    }

    // MARK: entry points

    /// `shipit deploy`: the whole state machine for one release.
    public func deploy(_ input: ReleaseInput) async -> DeployReport {
        self.input = input
        return await drive(.deploy)
    }

    public func deploy(_ artifact: Artifact) async -> DeployReport { await deploy(.artifact(artifact)) }

    /// `shipit deploy --tag T` (strategy image).
    public func deployImage(tag: String) async -> DeployReport { await deploy(.imageTag(tag)) }

    /// `shipit rollback [--to ID]`: every host back to one release, with the same smoke test. With no
    /// target: the newest release older than what runs now that is present on *all* hosts and not
    /// marked failed.
    public func rollback(to requested: String?) async -> DeployReport {
        rollbackTo = requested
        return await drive(.rollback)
    }

    /// `shipit rollout promote|abort`: picks up a paused rollout (`attempt`, recorded with each
    /// host's step and switch time) under its own attempt id: the next step, or a rollback of the
    /// hosts switched so far. Its release is already staged on every host.
    public func resume(_ attempt: LedgerAttempt, _ mode: DeployStateMachine.Resume) async -> DeployReport {
        precondition(attempt.id == attemptID, "a resumed rollout keeps its attempt id (Options.attemptID)")
        resumed = (attempt, mode)
        release = ResolvedRelease(
            id: attempt.releaseID, input: .imageTag(attempt.releaseID), imageDigest: attempt.imageDigest)
        return await drive(.deploy)
    }

    /// The release this run switches to (known after pre-flight).
    var targetID: String { release?.id ?? rollbackTo ?? input?.provisionalID ?? "" }

    // MARK: the driver

    func drive(_ operation: DeployOperation) async -> DeployReport {
        let started = ContinuousClock.now
        let rollout = operation == .deploy ? config.rollout : nil
        if let (attempt, mode) = resumed {
            // The steps as the paused run planned them (the config may have changed since).
            stepPlan = Self.stepPlan(of: attempt, order: config.hosts)
            for h in attempt.hosts { if let step = h.rolloutStep { state.planned(host: h.host, step: step) } }
            let done = attempt.hosts.filter { $0.switchedAt != nil }.compactMap(\.rolloutStep).max() ?? 0
            machine = .resuming(
                mode, afterStep: done, warmStandby: strategy.traffic != nil,
                rollout: .init(steps: stepPlan.count, bake: rollout?.bakes ?? false, pauseAfter: rollout?.pauseAfter))
        } else {
            stepPlan = rollout?.plan(hosts: config.hosts) ?? [config.hosts]
            for (i, hosts) in stepPlan.enumerated() where rollout != nil {
                for h in hosts { state.planned(host: h, step: i + 1) }
            }
            machine = DeployStateMachine(
                operation: operation, autoRollback: operation == .deploy ? options.autoRollback : true,
                warmStandby: strategy.traffic != nil,
                rollout: .init(steps: stepPlan.count, bake: rollout?.bakes ?? false, pauseAfter: rollout?.pauseAfter))
        }
        guard await beginRecording(operation) else {
            state.failedIn = .pending
            state.failAll(step: "ledger", error: "the attempt could not be recorded; no host was touched")
            return await report(started: started)
        }
        let watch = startDeadline()
        defer { watch?.cancel() }
        let notified = notifyStart()
        await advance(.start)
        while !machine.phase.isTerminal {
            let phase = machine.phase
            let outcome = await runner(for: phase).run(self)
            await advance(event(after: phase, outcome))
        }
        await Conclusion().run(self)
        let r = await report(started: started)
        await notifyEnd(r, after: notified)
        return r
    }

    /// `--deadline`: past it the run stops as on a signal (and rolls back what it switched); the
    /// command running when it passes is cut at the deadline (see `remote`).
    func startDeadline() -> Task<Void, Never>? {
        guard let seconds = options.deadline else { return nil }
        let at = ContinuousClock.now.advanced(by: .milliseconds(Int(seconds * 1000)))
        deadlineAt = at
        let interrupt = self.interrupt
        let notify = self.notify
        return Task {
            try? await Task.sleep(until: at, clock: .continuous)
            guard !Task.isCancelled else { return }
            interrupt.raiseDeadline()
            notify(
                DeployNotice(
                    host: nil, step: "deadline", status: .failed,
                    message: "the \(seconds) s deadline passed: stopping, rolling back what was switched"))
        }
    }

    /// The runner of each non-terminal phase. A new phase is a new state in the machine and a new
    /// line here.
    func runner(for phase: DeployPhase) -> PhaseRunner {
        switch phase {
        case .preflight:
            if machine.resume != nil { return ResumePreflightPhase() }
            return machine.operation == .rollback ? RollbackPreflightPhase() : PreflightPhase()
        case .upload: return StagePhase()
        case .migrate: return MigratePhase()
        case .warm: return WarmPhase()
        case .switch: return SwitchPhase()
        case .smokeTest: return SmokeTestPhase()
        case .bake: return BakePhase()
        case .rollingBack: return RollingBackPhase()
        case .pending, .succeeded, .failed, .rolledBack, .rollbackFailed, .paused:
            preconditionFailure("no runner for \(phase)")
        }
    }

    /// A phase's outcome as the machine's event. A signal that arrived while a phase ran lets it
    /// finish, then starts nothing new (a rollback is never interrupted).
    func event(after phase: DeployPhase, _ outcome: PhaseOutcome) -> DeployEvent {
        switch outcome {
        case .failed: return .phaseFailed(anySwitched: state.anySwitched)
        case .stopped: return .interrupted(anySwitched: state.anySwitched)
        case .done:
            if phase != .rollingBack && interrupt.isRaised { return .interrupted(anySwitched: state.anySwitched) }
            return .phaseSucceeded
        }
    }

    func advance(_ event: DeployEvent) async {
        let before = machine.phase
        do { try machine.handle(event) } catch {
            preconditionFailure("invalid deploy transition from \(before) on \(event)")
        }
        switch event {
        case .interrupted:
            if state.failedIn == nil { state.failedIn = before }
            notify(DeployNotice(host: nil, step: "signal", status: .info, message: "interrupted: starting no new step"))
            await recorder?.event("signal", message: "interrupted: starting no new step")
        case .phaseFailed: if state.failedIn == nil { state.failedIn = before }
        case .start, .phaseSucceeded: break
        }
        let text = "\(before.rawValue) → \(machine.phase.rawValue)"
        notify(DeployNotice(host: nil, step: "state", status: .info, message: text))
        await recorder?.transition(to: machine.phase.rawValue)
        await recorder?.event("state", message: text)
        await announceRolloutStep(leaving: before, on: event)
    }

    /// The hosts of the step running now.
    var stepHosts: [String] { stepPlan.indices.contains(machine.step) ? stepPlan[machine.step] : config.hosts }

    /// The hosts of the step running now that the run moves to its release. A rollback leaves a
    /// host that already serves its target alone: no restart for nothing, and with the traffic
    /// switch its warm standby is kept (starting the target on the idle slot would replace it).
    var movingHosts: [String] {
        machine.operation == .rollback ? stepHosts.filter { state[$0]?.current != targetID } : stepHosts
    }

    /// Every host of the steps started so far: the ones this release may have reached.
    var reachedHosts: [String] { reachedHosts(through: machine.step) }

    func reachedHosts(through step: Int) -> [String] { stepPlan.prefix(step + 1).flatMap { $0 } }

    /// `rollout` notices and ledger events: a step starts (its hosts) and a step is done.
    func announceRolloutStep(leaving before: DeployPhase, on event: DeployEvent) async {
        guard machine.rollout.steps > 1 else { return }
        let n = machine.rollout.steps
        if [.smokeTest, .bake].contains(before), event == .phaseSucceeded, machine.phase != .bake {
            let done = machine.phase == .succeeded || machine.phase == .paused ? machine.step : machine.step - 1
            let message =
                "step \(done + 1)/\(n) done: \(stepPlan[done].count) host(s) switched and checked, \(reachedHosts(through: done).count) of \(config.hosts.count) on \(targetID)"
            notify(DeployNotice(host: nil, step: "rollout", status: .ok, message: message))
            await recorder?.event("rollout", message: message)
        }
        if [.warm, .switch].contains(machine.phase), announcedStep != machine.step {
            announcedStep = machine.step
            let hosts = stepHosts
            let message =
                "step \(machine.step + 1)/\(n) starts: \(hosts.count) host(s): \(hosts.joined(separator: ", "))"
            notify(DeployNotice(host: nil, step: "rollout", status: .started, message: message))
            await recorder?.event("rollout", message: message)
        }
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
