/// How a phase ended, for the state machine: finished everywhere, failed on some host, or did not
/// start its host steps because a signal arrived.
enum PhaseOutcome: Sendable, Equatable {
    case done, failed, stopped
}

/// What a phase hands back to the driver: how it ended, and the changes to the run it made, in
/// order. The driver applies them to the run; the phase never changes the driver's copy.
struct PhaseResult: Sendable {
    var outcome: PhaseOutcome
    var changes: [RunChange]
}

/// Runs one non-terminal phase of a run. It acts on hosts through `PhaseRun`'s steps, is given
/// the context and a copy of the run, and returns its result; it never picks the next phase.
protocol PhaseRunner {
    func run(_ context: DeployContext, _ run: DeployRun) async -> PhaseResult
}

/// A phase at work: the run's context, its own copy of the run (with the phase's changes applied
/// as it makes them, so its later steps see them), and those changes, for the driver.
struct PhaseRun: Sendable {
    let context: DeployContext
    private(set) var run: DeployRun
    private(set) var changes: [RunChange] = []

    init(_ context: DeployContext, _ run: DeployRun) {
        self.context = context
        self.run = run
    }

    mutating func apply(_ change: RunChange) {
        run.apply(change)
        changes.append(change)
    }

    func finish(_ outcome: PhaseOutcome) -> PhaseResult { PhaseResult(outcome: outcome, changes: changes) }

    var config: DeployConfig { context.config }
    var strategy: ReleaseStrategy { context.strategy }
    var state: RunState { run.hosts }
    var machine: DeployStateMachine { run.machine }
    var recorder: AttemptRecorder? { run.recorder }
    var targetID: String { run.targetID }
    func notify(_ notice: DeployNotice) { context.notify(notice) }

    /// Records each failed result; returns the failed hosts, sorted.
    mutating func record(_ results: [String: StepResult], step: String) -> [String] {
        var failed: [String] = []
        for (host, r) in results.sorted(by: { $0.key < $1.key }) where !r.ok {
            apply(.hostFailed(host, step: step, error: r.error))
            failed.append(host)
        }
        return failed
    }

    /// Each target's release; a target without one (nothing to go back to) fails at `step`.
    mutating func releases(for targets: [String], step: String, _ release: (String) -> String?) -> (
        ids: [String: String], failed: [String]
    ) {
        var ids: [String: String] = [:]
        var failed: [String] = []
        for host in targets {
            if let id = release(host) {
                ids[host] = id
            } else {
                apply(.hostFailed(host, step: step, error: "no release to switch to"))
                failed.append(host)
            }
        }
        return (ids, failed)
    }

    /// Runs a lock-taking pre-flight script on every host and reads what it found: the lock,
    /// stale locks taken over, each host's current release. nil if any host failed.
    /// `stdinPath`: a file streamed on the script's stdin (a deploy's artifact, staged in the same
    /// channel once the host passed its checks).
    mutating func lockingPreflight(
        stdinPath: String? = nil, _ command: @escaping @Sendable (String) -> RemoteCommand
    ) async -> [String: ScriptOutput]? {
        let now = self
        let results = await step("preflight", on: config.hosts) { host in
            await now.remote(host, command(host), stdinPath: stdinPath)
        }
        for (host, r) in results.sorted(by: { $0.key < $1.key }) {
            if r.output.first(.extracted) != nil { apply(.stagedInPreflight(host, r.output)) }
            let kept = r.output.all(.kept).prefix(SymlinkStrategy.keptOffered).compactMap {
                line -> (id: String, manifest: String)? in
                let f = line.split(separator: " ")
                guard f.count == 2, HostValue.isReleaseID(String(f[0])), HostValue.isSHA256Hex(f[1]) else { return nil }
                return (String(f[0]), String(f[1]))
            }
            if !kept.isEmpty { apply(.kept(host, kept)) }
            if r.output.first(.warmExit) != nil {
                apply(.warmedEarly(host, .init(output: r.output, carrier: "the pre-flight")))
            }
        }
        for (host, r) in results {
            if r.output.first(.lock) == "acquired" { apply(.locked(host)) }
            if let stale = r.output.first(.lockStale), stale == context.attemptID {
                notify(
                    DeployNotice(
                        host: host, step: "preflight", status: .info,
                        message: "took up the lock this paused rollout left"))
            } else if let stale = r.output.first(.lockStale) {
                notify(
                    DeployNotice(
                        host: host, step: "preflight", status: .info,
                        message: "took over the lock left by attempt \(stale) (that run is over)"))
            }
            apply(.found(host, current: r.output.first(.current).flatMap { $0.isEmpty ? nil : $0 }))
            if let traffic = strategy.traffic {
                let active = r.output.first(.slotActive).flatMap { Int($0) }
                let idle = traffic.settings.idle(after: active)
                let other = r.output.first("slot.\(idle)")?.split(separator: " ").map(String.init) ?? []
                apply(
                    .foundSlots(
                        host, active: active, standby: other.count == 2 && other[1] == "running" ? other[0] : nil,
                        standbySlot: idle))
            }
            if r.exitStatus == ScriptExit.locked.rawValue, !state.lockHeld { apply(.lockHeld) }
            // A paused request step's split (a fresh run has sent any it found back).
            if let share = r.output.first("split.share").flatMap({ Int($0) }), share > 0 {
                apply(.split(host, share: share))
            }
        }
        let failed = record(results, step: "preflight")
        if state.lockHeld { await explainPausedHolder(results.values.compactMap(\.error)) }
        await recordHosts()
        return failed.isEmpty ? results.mapValues(\.output) : nil
    }

    /// A lock held by a paused rollout is not a run to wait for: say so, and what to do.
    func explainPausedHolder(_ errors: [String]) async {
        guard let ledger = context.ledger else { return }
        let holders = Set(
            errors.compactMap { e -> String? in
                guard let r = e.firstRange(of: "holder=") else { return nil }
                return e[r.upperBound...].split(separator: " ").first.map(String.init)
            })
        for id in holders.sorted() where id != context.attemptID {
            guard let a = try? await ledger.attempt(id), a.outcome == .paused else { continue }
            let step = Deployment.pausedAfter(a, events: (try? await ledger.steps(attemptID: id)) ?? [])
            notify(
                DeployNotice(
                    host: nil, step: "preflight", status: .failed,
                    message:
                        "the deploy lock is held by a PAUSED rollout of \(a.releaseID) (attempt \(id), paused after step \(step) by \(a.user)@\(a.machine)): shipit rollout promote to continue it, or shipit rollout abort to roll it back"
                ))
        }
    }
}
