import FoundationEssentials
import SSH

/// What phases use to act on hosts: a step on many hosts in parallel (noticed and recorded per
/// host), one remote script, the deployer's hooks, history lines, the closing scripts. A step's
/// hosts run in parallel and only return their results; the phase records them.
extension PhaseRun {
    /// Runs `body` on `targets` in parallel with a notice per host; returns each host's result.
    /// Each host's step is in the ledger (as running) before it starts, and finished as it ends.
    func step(_ step: String, on targets: [String], _ body: @escaping @Sendable (String) async -> StepResult) async
        -> [String: StepResult]
    {
        let notify = context.notify
        let recorder = self.recorder
        let known = Dictionary(uniqueKeysWithValues: targets.map { ($0, state.ledgerState($0)) })
        return await Fleet.bounded(targets, limit: config.connection.parallel) { host in
            let start = ContinuousClock.now
            let row = await recorder?.stepStarted(host: host, step: step, known: known[host])
            let r = await body(host)
            let secs = ExecRunner.seconds(ContinuousClock.now - start)
            var after = known[host]
            if let s = r.output.first(.switched) { after?.current = s }
            await recorder?.stepFinished(
                row, step: step, ok: r.ok, exitStatus: r.exitStatus, stderrTail: r.stderrTail, message: r.error,
                known: after)
            notify(
                DeployNotice(
                    host: host, step: step, status: r.ok ? .ok : .failed,
                    message: r.ok ? (r.note ?? "") : (r.error ?? "failed"), seconds: secs))
            return r
        }
    }

    /// The same script on every target.
    func step(_ name: String, on targets: [String], running command: RemoteCommand) async -> [String: StepResult] {
        await step(name, on: targets) { [self] host in await remote(host, command) }
    }

    /// Runs a remote script and turns a non-zero exit into its `error=` line (or stderr tail).
    /// `stdinPath`: a local file streamed on the command's stdin (an upload without SFTP).
    func remote(_ host: String, _ command: RemoteCommand, stdinPath: String? = nil, stdin: Data? = nil) async
        -> StepResult
    {
        var command = command
        // Before the deadline, no command may outlive it (a hung start must not hang the
        // pipeline); the rollback and closing scripts after it get their own time.
        if let at = run.deadlineAt, !context.interrupt.deadlinePassed {
            let left = ExecRunner.seconds(at - ContinuousClock.now)
            command.timeout = max(0.5, min(command.timeout ?? config.connection.commandTimeout, left))
        }
        do {
            let r: ExecResult
            if let stdin {
                r = try await context.transport.run(host, command, stdin: stdin)
            } else if let stdinPath {
                r = try await context.transport.run(host, command, stdinPath: stdinPath)
            } else {
                r = try await context.transport.run(host, command)
            }
            let out = ScriptOutput(r.stdoutText)
            // Host text reaches the terminal and the ledger: no escape sequences from it.
            let tail = Self.tail(r.stderrText).map(HostValue.printable)
            // A value without its shape (a `digest=` that is not one) is never used: the step fails.
            if r.status.succeeded, let bad = out.rejection {
                return StepResult(ok: false, output: out, error: bad, exitStatus: 0, stderrTail: tail)
            }
            if r.status.succeeded { return StepResult(ok: true, output: out, exitStatus: 0, stderrTail: tail) }
            let why = out.first(.error).map(HostValue.printable) ?? tail ?? "exit \(r.exitCode)"
            return StepResult(ok: false, output: out, error: why, exitStatus: r.exitCode, stderrTail: tail)
        } catch {
            var r = StepResult(failure: ErrorText.withoutHost(error))
            if let e = error as? SSHError { r.outcomeUnknown = e.commandMayHaveRun }
            return r
        }
    }

    static func tail(_ text: String) -> String? {
        let t = text.trimmed()
        return t.isEmpty ? nil : String(t.suffix(300)).replacing("\n", with: " | ")
    }

    /// Runs a closing script (it ends by releasing our lock) on every host we locked; `command`
    /// is per host so each can carry its own history line.
    mutating func onLockedHosts(_ command: @escaping @Sendable (String) -> RemoteCommand) async {
        let now = self
        _ = await step("release lock", on: state.locked.sorted()) { host in await now.remote(host, command(host)) }
        apply(.unlockedAll)
    }

    /// Writes every host's known previous/current release and failure into the ledger.
    func recordHosts() async {
        guard let recorder else { return }
        for h in config.hosts { await recorder.host(state.ledgerState(h)) }
    }

    /// The shared ledger's run lock (one run of this app and stage at a time, across runners).
    /// False when another run holds it: the run fails before any host is touched.
    mutating func takeSharedRunLock() async -> Bool {
        guard let shared = context.ledger as? SharedRunLock else { return true }
        do {
            if let who = try await shared.acquireRunLock(
                app: config.app, stage: config.stage, attemptID: context.attemptID, holder: context.deployer,
                waitSeconds: context.options.lockWaitSeconds)
            {
                apply(.lockHeld)
                apply(.allFailed(step: "preflight", error: "deploy lock held in the shared ledger by \(who)"))
                notify(
                    DeployNotice(
                        host: nil, step: "lock", status: .failed,
                        message: "the shared ledger's run lock is held by \(who)"))
                return false
            }
            apply(.sharedLockTaken)
            return true
        } catch {
            apply(.allFailed(step: "preflight", error: "shared run lock: \(error)"))
            return false
        }
    }

    // MARK: hooks and history

    func hookEnv(_ release: String) -> [String: String] { context.hookEnv(release, run: run) }

    /// Runs a deployer hook if it exists; false if it failed.
    func runHook(_ name: String) async -> Bool { await context.runHook(name, run: run) }

    func historyLine(event: String, release: String, previous: String?, outcome: String? = nil) -> String {
        context.historyLine(event: event, release: release, previous: previous, outcome: outcome)
    }

    /// The slot a host's next release starts on: the one not serving traffic.
    func idleSlot(_ host: String) -> Int {
        strategy.traffic?.settings.idle(after: state[host]?.slot) ?? 0
    }
}
