import FoundationEssentials
import SSH

/// What phases use to act on hosts: a step on many hosts in parallel (noticed and recorded per
/// host), one remote script, the deployer's hooks, history lines, the closing scripts.
extension Deployment {
    /// Runs `body` on `targets` in parallel with a notice per host; returns each host's result.
    /// Each host's step is in the ledger (as running) before it starts, and finished as it ends.
    func step(_ step: String, on targets: [String], _ body: @escaping @Sendable (String) async -> StepResult) async
        -> [String: StepResult]
    {
        let notify = self.notify
        let recorder = self.recorder
        let known = Dictionary(uniqueKeysWithValues: targets.map { ($0, state.ledgerState($0)) })
        return await Fleet.bounded(targets, limit: config.connection.parallel) { host in
            let start = ContinuousClock.now
            let row = await recorder?.stepStarted(host: host, step: step, known: known[host])
            let r = await body(host)
            let secs = ExecRunner.seconds(ContinuousClock.now - start)
            var after = known[host]
            if let s = r.output.first("switched") { after?.current = s }
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
    @Sendable func remote(_ host: String, _ command: RemoteCommand, stdinPath: String? = nil) async -> StepResult {
        var command = command
        // Before the deadline, no command may outlive it (a hung start must not hang the
        // pipeline); the rollback and closing scripts after it get their own time.
        if let at = deadlineAt, !interrupt.deadlinePassed {
            let left = ExecRunner.seconds(at - ContinuousClock.now)
            command.timeout = max(0.5, min(command.timeout ?? config.connection.commandTimeout, left))
        }
        do {
            let r: ExecResult
            if let stdinPath {
                r = try await transport.run(host, command, stdinPath: stdinPath)
            } else {
                r = try await transport.run(host, command)
            }
            let out = ScriptOutput(r.stdoutText)
            // Host text reaches the terminal and the ledger: no escape sequences from it.
            let tail = Self.tail(r.stderrText).map(HostValue.printable)
            // A value without its shape (a `digest=` that is not one) is never used: the step fails.
            if r.status.succeeded, let bad = out.rejection {
                return StepResult(ok: false, output: out, error: bad, exitStatus: 0, stderrTail: tail)
            }
            if r.status.succeeded { return StepResult(ok: true, output: out, exitStatus: 0, stderrTail: tail) }
            let why = out.first("error").map(HostValue.printable) ?? tail ?? "exit \(r.exitCode)"
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
    func onLockedHosts(_ command: @escaping @Sendable (String) -> RemoteCommand) async {
        _ = await step("release lock", on: state.locked.sorted()) { [self] host in await remote(host, command(host)) }
        state.locked.removeAll()
    }

    // MARK: hooks and history

    /// `user@machine` of whoever runs shipit, for locks and history.
    var deployer: String { "\(invoker.user)@\(invoker.machine)" }

    var lockRequest: LockRequest {
        let info =
            "holder=\(attemptID)\npid=\(invoker.pid)\nby=\(deployer)\nstarted=\(UTCTime.iso(Date()))\nreason=\(options.reason)"
        return LockRequest(info: info, waitSeconds: options.lockWaitSeconds, staleHolders: options.staleHolders)
    }

    func hookEnv(_ release: String) -> [String: String] {
        let previous = Set(state.results.compactMap(\.previous)).sorted().joined(separator: ",")
        return [
            "SHIPIT_APP": config.app, "SHIPIT_STAGE": config.stage ?? "", "SHIPIT_RELEASE": release,
            "SHIPIT_PREVIOUS_RELEASE": previous, "SHIPIT_HOSTS": config.hosts.joined(separator: ","),
            "SHIPIT_DEPLOY_TO": config.deployTo, "SHIPIT_OUTCOME": machine.phase.rawValue, "SHIPIT_ATTEMPT": attemptID,
        ]
    }

    /// Runs a deployer hook if it exists; false if it failed.
    func runHook(_ name: String) async -> Bool {
        guard hooks.exists(name) else { return true }
        let (ok, output) = await hooks.run(name, env: hookEnv(targetID))
        if !ok || !output.isEmpty {
            notify(DeployNotice(host: nil, step: "hook \(name)", status: ok ? .info : .failed, message: output))
        }
        await recorder?.event("hook \(name)", message: output, ok: ok)
        return ok
    }

    func historyLine(event: String, release: String, previous: String?, outcome: String? = nil) -> String {
        HostHistory.Entry(
            time: Date(), event: event, app: config.app, stage: config.stage, release: release,
            previous: previous, attempt: attemptID, by: deployer, outcome: outcome
        ).jsonLine
    }
}
