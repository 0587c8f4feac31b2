import Foundation
import SSH

/// Runs one deploy (or rollback) of the symlink strategy across all hosts, driven by
/// `DeployStateMachine`: pre-flight everywhere before any change, upload once per host, atomic
/// switch, smoke test, and automatic rollback of every switched host on failure. Every transition
/// and step goes to the ledger as it happens (when one is given).
public final class Deployment: @unchecked Sendable {
    public struct Options: Sendable {
        public var lockWaitSeconds = 0
        public var autoRollback = true
        public var reason = "deploy"
        /// Lock holders (attempt ids) known to be dead: their locks are taken over, with a notice.
        public var staleHolders: [String] = []
        /// The release's migrations (read and linted on the deployer), when `migrations:` is set.
        public var migrations: MigrationSet?
        /// Apply contract (rollback-unsafe) migrations instead of refusing them.
        public var allowContract = false
        /// Roll back past a rollback-unsafe release anyway (manual rollback), or auto-roll back after
        /// applying a contract migration.
        public var force = false
        public init() {}
    }

    let config: DeployConfig
    let transport: HostTransport
    let options: Options
    let notify: @Sendable (DeployNotice) -> Void
    let interrupt: InterruptFlag
    let commands: ReleaseCommands
    /// The attempt id: also the lock holder id and the `attempt` of host history lines.
    public let attemptID: String
    var holder: String { attemptID }
    let hooks: Hooks
    let ledger: Ledger?
    let invoker: Invoker
    let redactor: Redactor
    var recorder: AttemptRecorder?

    // Owned by `run` (phases run hosts in parallel but merge results here, one phase at a time).
    var machine: DeployStateMachine
    var hosts: [String: DeployReport.HostResult] = [:]
    var locked: Set<String> = []
    var lockHeld = false
    var failedIn: DeployPhase?
    var sharedLockTaken = false
    /// Migrations this run will apply (set in pre-flight from the database's record).
    var pendingMigrations: [MigrationSet.File] = []
    /// Each host's pre-flight facts (the image strategy reads the pulled digest from them).
    var preflightResults: [String: ScriptOutput] = [:]

    public init(config: DeployConfig, transport: HostTransport, options: Options = Options(),
                interrupt: InterruptFlag = InterruptFlag(), ledger: Ledger? = nil, invoker: Invoker = .current(),
                redactor: Redactor = Redactor(), notify: @escaping @Sendable (DeployNotice) -> Void) {
        self.config = config
        self.transport = transport
        self.options = options
        self.notify = { notify($0.redacted(by: redactor)) }
        self.interrupt = interrupt
        self.commands = StrategyCommands.make(config)
        self.machine = DeployStateMachine(autoRollback: options.autoRollback)
        self.hooks = Hooks(directory: config.hooksDir)
        self.ledger = ledger
        self.invoker = invoker
        self.redactor = redactor
        self.attemptID = AttemptID.make()
        for h in config.hosts { hosts[h] = DeployReport.HostResult(host: h) }
    }

    /// `user@machine` of whoever runs shipit, for locks and history.
    var deployer: String { "\(invoker.user)@\(invoker.machine)" }

    var lockInfo: String {
        "holder=\(holder)\npid=\(invoker.pid)\nby=\(deployer)\nstarted=\(ISO8601DateFormatter().string(from: Date()))\nreason=\(options.reason)"
    }

    /// Opens the attempt in the ledger before anything else happens. False (with the reason as a
    /// notice) when it cannot be written: an unrecorded run must not start.
    func beginRecording(operation: String, releaseID: String, source: String?, commit: String?, ref: String?) async -> Bool {
        guard let ledger else { return true }
        let attempt = LedgerAttempt(
            id: attemptID, app: config.app, stage: config.stage, strategy: config.strategy.rawValue, operation: operation,
            releaseID: releaseID, source: source, commit: commit, ref: ref, user: invoker.user, machine: invoker.machine,
            pid: invoker.pid, ci: invoker.ci, startedAt: Date(), state: machine.phase.rawValue, configHash: config.configHash,
            hosts: config.hosts.map { LedgerHostState(host: $0) })
        let r = AttemptRecorder(ledger: ledger, attempt: attempt, redactor: redactor) { [notify] message in
            notify(DeployNotice(host: nil, step: "ledger", status: .failed, message: message))
        }
        do {
            try await r.begin(settings: config.settings)
        } catch {
            notify(DeployNotice(host: nil, step: "ledger", status: .failed, message: "\(error)"))
            return false
        }
        recorder = r
        return true
    }

    /// The shared ledger's run lock (one run of this app and stage at a time, across runners).
    /// False when another run holds it: the caller fails the run before any host is touched.
    func takeSharedRunLock() async -> Bool {
        guard let shared = ledger as? SharedRunLock else { return true }
        do {
            if let who = try await shared.acquireRunLock(app: config.app, stage: config.stage, attemptID: attemptID, holder: deployer,
                                                          waitSeconds: options.lockWaitSeconds) {
                lockHeld = true
                for h in config.hosts { hosts[h]?.failedStep = "preflight"; hosts[h]?.error = "deploy lock held in the shared ledger by \(who)" }
                notify(DeployNotice(host: nil, step: "lock", status: .failed, message: "the shared ledger's run lock is held by \(who)"))
                return false
            }
            sharedLockTaken = true
            return true
        } catch {
            for h in config.hosts { hosts[h]?.failedStep = "preflight"; hosts[h]?.error = "shared run lock: \(error)" }
            return false
        }
    }

    func hostState(_ host: String) -> LedgerHostState {
        let h = hosts[host]
        let status = h?.switchingTo != nil ? "unknown" : h?.failedStep == nil ? nil : "failed"
        return LedgerHostState(host: host, previous: h?.previous, current: h?.current, step: h?.failedStep, status: status, error: h?.error)
    }

    // MARK: phases

    /// Runs `body` on `targets` in parallel with a notice per host; returns each host's result.
    /// Each host's step is in the ledger (as running) before it starts, and finished as it ends.
    func phase(_ step: String, on targets: [String], _ body: @escaping @Sendable (String) async -> StepResult) async -> [String: StepResult] {
        let notify = self.notify
        let recorder = self.recorder
        let known = Dictionary(uniqueKeysWithValues: targets.map { ($0, hostState($0)) })
        return await Fleet.bounded(targets, limit: config.connection.parallel) { host in
            let start = ContinuousClock.now
            let row = await recorder?.stepStarted(host: host, step: step, known: known[host])
            let r = await body(host)
            let secs = ExecRunner.seconds(ContinuousClock.now - start)
            var after = known[host]
            if let s = r.output.first("switched") { after?.current = s }
            await recorder?.stepFinished(row, step: step, ok: r.ok, exitStatus: r.exitStatus, stderrTail: r.stderrTail, message: r.error, known: after)
            notify(DeployNotice(host: host, step: step, status: r.ok ? .ok : .failed, message: r.ok ? "" : (r.error ?? "failed"), seconds: secs))
            return r
        }
    }

    /// Runs a remote script and turns a non-zero exit into its `error=` line (or stderr tail).
    @Sendable func remote(_ host: String, _ command: RemoteCommand) async -> StepResult {
        do {
            let r = try await transport.run(host, command)
            let out = ScriptOutput(r.stdoutText)
            let tail = Self.tail(r.stderrText)
            if r.status.succeeded { return StepResult(ok: true, output: out, exitStatus: 0, stderrTail: tail) }
            let why = out.first("error") ?? tail ?? "exit \(r.exitCode)"
            return StepResult(ok: false, output: out, error: why, exitStatus: r.exitCode, stderrTail: tail)
        } catch {
            var r = StepResult(failure: ErrorText.withoutHost(error))
            if let e = error as? SSHError { r.outcomeUnknown = e.kind == .connectionLost || e.kind == .timeout }
            return r
        }
    }

    static func tail(_ text: String) -> String? {
        let t = text.trimmingCharacters(in: .whitespacesAndNewlines)
        return t.isEmpty ? nil : String(t.suffix(300)).replacingOccurrences(of: "\n", with: " | ")
    }

    func record(_ results: [String: StepResult], step: String) -> [String] {
        var failed: [String] = []
        for (host, r) in results where !r.ok {
            hosts[host]?.failedStep = step
            hosts[host]?.error = r.error
            failed.append(host)
        }
        return failed.sorted()
    }

    func advance(_ event: DeployEvent) async {
        let before = machine.phase
        do { try machine.handle(event) } catch {
            preconditionFailure("invalid deploy transition from \(before) on \(event)")
        }
        switch event {
        case .phaseFailed, .interrupted: if failedIn == nil { failedIn = before }
        case .start, .phaseSucceeded: break
        }
        notify(DeployNotice(host: nil, step: "state", status: .info, message: "\(before.rawValue) → \(machine.phase.rawValue)"))
        await recorder?.transition(to: machine.phase.rawValue)
        await recorder?.event("state", message: "\(before.rawValue) → \(machine.phase.rawValue)")
    }

    /// Checks for SIGINT/SIGTERM between steps.
    func stopRequested() async -> Bool {
        guard interrupt.isRaised else { return false }
        notify(DeployNotice(host: nil, step: "signal", status: .info, message: "interrupted: starting no new step"))
        await recorder?.event("signal", message: "interrupted: starting no new step")
        await advance(.interrupted(anySwitched: hosts.values.contains { $0.current != nil && $0.current != $0.previous }))
        return true
    }

    func hookEnv(_ release: String) -> [String: String] {
        let previous = Set(hosts.values.compactMap(\.previous)).sorted().joined(separator: ",")
        return ["SHIPIT_APP": config.app, "SHIPIT_STAGE": config.stage ?? "", "SHIPIT_RELEASE": release,
                "SHIPIT_PREVIOUS_RELEASE": previous, "SHIPIT_HOSTS": config.hosts.joined(separator: ","),
                "SHIPIT_DEPLOY_TO": config.deployTo, "SHIPIT_OUTCOME": machine.phase.rawValue, "SHIPIT_ATTEMPT": attemptID]
    }

    func runHook(_ name: String, release: String) async -> Bool {
        guard hooks.exists(name) else { return true }
        let (ok, output) = await hooks.run(name, env: hookEnv(release))
        if !ok || !output.isEmpty {
            notify(DeployNotice(host: nil, step: "hook \(name)", status: ok ? .info : .failed, message: output))
        }
        await recorder?.event("hook \(name)", message: output, ok: ok)
        return ok
    }

    func historyLine(event: String, release: String, previous: String?, outcome: String? = nil) -> String {
        HostHistory.Entry(time: Date(), event: event, app: config.app, stage: config.stage, release: release,
                          previous: previous, attempt: attemptID, by: deployer, outcome: outcome).jsonLine
    }

    func startEnv(_ host: String) -> [(String, String)] {
        var env = [("SHIPIT_APP", config.app), ("SHIPIT_HOST", host)]
        if let h = config.health { env += [("PORT", String(h.port)), ("SHIPIT_BIND", h.address ?? host)] }
        else if config.image != nil { env += [("SHIPIT_BIND", host)] }
        if config.image?.envFile != nil { env += [("SHIPIT_ENV_FILE", remoteEnvFile)] }
        return env
    }

    /// Where the image strategy's env file goes on each host (mode 0600, never printed).
    var remoteEnvFile: String { config.layout.shared + "/.env-" + config.app }

    // MARK: shared steps

    /// The symlink strategy's own builders (extract is symlink-only).
    var symlink: SymlinkCommands { SymlinkCommands(layout: config.layout, timeout: config.connection.commandTimeout) }

    /// Pre-flight on every host (after the shared run lock, if the ledger has one); returns false
    /// (after releasing any lock taken) if any host failed.
    /// `pull`: the image strategy pulls `name:tag` on every host here, before anything changes.
    func preflight(requiredKB: Int64, pull: String? = nil, withInventory: Bool = false) async -> Bool {
        guard await takeSharedRunLock() else { return false }
        var cmd: RemoteCommand
        if let image = commands as? ImageCommands {
            cmd = image.preflight(lockInfo: lockInfo, lockWaitSeconds: options.lockWaitSeconds, staleHolders: options.staleHolders, pull: pull)
        } else {
            cmd = symlink.preflight(lockInfo: lockInfo, lockWaitSeconds: options.lockWaitSeconds, requiredKB: requiredKB, staleHolders: options.staleHolders)
        }
        if withInventory { cmd = cmd.then(commands.inventory()) }
        preflightResults = [:]
        let script = cmd
        let results = await phase("preflight", on: config.hosts) { [self] host in await remote(host, script) }
        for (host, r) in results {
            if r.output.first("lock") == "acquired" { locked.insert(host) }
            if let stale = r.output.first("lock.stale") {
                notify(DeployNotice(host: host, step: "preflight", status: .info, message: "took over the lock left by attempt \(stale) (that run is over)"))
            }
            let cur = r.output.first("current").flatMap { $0.isEmpty ? nil : $0 }
            hosts[host]?.previous = cur
            hosts[host]?.current = cur
            if r.error?.hasPrefix("deploy lock held") == true { lockHeld = true }
        }
        preflightResults = results.mapValues(\.output)
        let failed = record(results, step: "preflight")
        await recordHosts()
        if failed.isEmpty { return true }
        await releaseLocks()
        return false
    }

    func releaseLocks(history: String? = nil) async {
        await onLockedHosts(commands.unlock(holder: holder, historyLine: history))
    }

    /// Runs a closing script (it ends by releasing our lock) on every host we locked.
    func onLockedHosts(_ cmd: RemoteCommand) async {
        _ = await phase("release lock", on: locked.sorted()) { [self] host in await remote(host, cmd) }
        locked.removeAll()
    }

    /// Writes every host's known previous/current release and failure into the ledger.
    func recordHosts() async {
        guard let recorder else { return }
        for h in config.hosts { await recorder.host(hostState(h)) }
    }

    /// Feeds the outcome of `switchAndVerify` to the state machine: a failed switch step, else
    /// switch → smokeTest and then a failed probe or a signal. Leaves the machine in `.smokeTest`
    /// only when every host switched and is healthy.
    func settleSwitch(failed: [String], anySwitched: Bool) async {
        if failed.contains(where: { hosts[$0]?.failedStep == "switch" }) {
            await advance(.phaseFailed(anySwitched: anySwitched))
            return
        }
        await advance(.phaseSucceeded)  // the probes ran right after each host's switch
        if !failed.isEmpty { await advance(.phaseFailed(anySwitched: true)) }
        else if interrupt.isRaised { await advance(.interrupted(anySwitched: true)) }
    }

    /// Switches `targets` to their per-host release and smoke-tests them. Returns the hosts that failed.
    func switchAndVerify(_ step: String, release: (String) -> String?, targets: [String], event: String) async -> [String] {
        var plans: [String: RemoteCommand] = [:]
        var failed: [String] = []
        for host in targets {
            guard let id = release(host) else {
                hosts[host]?.failedStep = step
                hosts[host]?.error = "no release to switch to"
                failed.append(host)
                continue
            }
            plans[host] = commands.switchTo(releaseID: id, start: config.start, env: startEnv(host),
                                            historyLine: historyLine(event: event, release: id, previous: hosts[host]?.current))
        }
        let plansCopy = plans
        let results = await phase(step, on: plans.keys.sorted()) { [self] host in await remote(host, plansCopy[host]!) }
        for (host, r) in results {
            if let s = r.output.first("switched") { hosts[host]?.current = s; hosts[host]?.switchingTo = nil }
            // The connection failed while the script ran, so the switch may or may not have
            // happened. The host counts as switched for the rollback, which finds out.
            else if r.outcomeUnknown, let id = release(host), hosts[host]?.current != id {
                if hosts[host]?.switchingTo == nil { hosts[host]?.switchingTo = id }
            }
        }
        failed += record(results, step: step)
        for host in failed where hosts[host]?.switchingTo != nil {
            let h = hosts[host]!
            hosts[host]?.error = "\(h.error ?? "connection failed"); outcome unknown: on \(h.current ?? "no release") or \(h.switchingTo!)"
        }
        await recordHosts()
        guard let health = config.health else { return failed.sorted() }
        let probe = HealthProbe(health: health, transport: transport)
        let healthy = results.filter { $0.value.ok }.map(\.key).sorted()
        let checks = await phase("\(step == "switch" ? "smoke test" : "smoke test (\(step))")", on: healthy) { [interrupt] host in
            let r = await probe.check(host: host, interrupt: interrupt)
            return StepResult(ok: r.healthy, output: ScriptOutput(""), error: r.healthy ? nil : r.detail)
        }
        failed += record(checks, step: "smoke test")
        await recordHosts()
        return failed.sorted()
    }

    /// The final report; also closes the attempt in the ledger with its outcome.
    func report(operation: String, release: String, started: ContinuousClock.Instant) async -> DeployReport {
        var r = DeployReport(operation: operation, app: config.app, releaseID: release, phase: machine.phase, failedIn: failedIn,
                             interrupted: interrupt.isRaised, lockHeld: lockHeld,
                             hosts: config.hosts.compactMap { hosts[$0] }.map { var h = $0; h.error = redactor.redact(h.error); return h },
                             seconds: ExecRunner.seconds(ContinuousClock.now - started))
        if sharedLockTaken, let shared = ledger as? SharedRunLock {
            await shared.releaseRunLock(app: config.app, stage: config.stage)
            sharedLockTaken = false
        }
        if let recorder {
            await recordHosts()
            await recorder.change {
                $0.releaseID = release
                $0.state = r.phase.rawValue
                $0.outcome = r.outcome
                $0.finishedAt = Date()
                $0.error = r.summaryError
            }
            r.attemptID = recorder.id
            r.ledger = recorder.ledger.location
        }
        return r
    }
}
