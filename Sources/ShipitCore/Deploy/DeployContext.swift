import FoundationEssentials

/// What a run was asked to do: ship a release, go back to one, or pick up a paused rollout.
enum RunRequest: Sendable {
    case deploy(ReleaseInput)
    /// `--to`, when given.
    case rollback(to: String?)
    /// `shipit rollout promote|abort` of the paused attempt.
    case resume(LedgerAttempt, DeployStateMachine.Resume)
}

/// Everything about a run that does not change while it runs: the config, the fleet's transport,
/// the strategy, the options, the request, and where notices, hooks and the ledger go. A value
/// shared by the driver and every phase; none of them can change it, so phases running hosts in
/// parallel read it freely.
struct DeployContext: Sendable {
    let config: DeployConfig
    let transport: HostTransport
    let options: Deployment.Options
    let notify: @Sendable (DeployNotice) -> Void
    let interrupt: InterruptFlag
    let strategy: ReleaseStrategy
    /// The attempt id: also the lock holder id and the `attempt` of host history lines.
    let attemptID: String
    let hooks: Hooks
    let ledger: Ledger?
    let invoker: Invoker
    let redactor: Redactor
    let request: RunRequest

    /// What this run deploys (nil for a rollback or a resumed rollout).
    var input: ReleaseInput? {
        if case .deploy(let input) = request { return input }
        return nil
    }

    /// The paused rollout this run picks up, and what to do with it.
    var resumed: (attempt: LedgerAttempt, mode: DeployStateMachine.Resume)? {
        if case .resume(let attempt, let mode) = request { return (attempt, mode) }
        return nil
    }

    /// `user@machine` of whoever runs shipit, for locks and history.
    var deployer: String { "\(invoker.user)@\(invoker.machine)" }

    var lockRequest: LockRequest {
        let info =
            "holder=\(attemptID)\npid=\(invoker.pid)\nby=\(deployer)\nstarted=\(UTCTime.iso(Date()))\nreason=\(options.reason)"
        return LockRequest(info: info, waitSeconds: options.lockWaitSeconds, staleHolders: options.staleHolders)
    }

    func historyLine(event: String, release: String, previous: String?, outcome: String? = nil) -> String {
        HostHistory.Entry(
            time: Date(), event: event, app: config.app, stage: config.stage, release: release,
            previous: previous, attempt: attemptID, by: deployer, outcome: outcome
        ).jsonLine
    }

    /// The environment of a deployer hook, as the run stands.
    func hookEnv(_ release: String, run: DeployRun) -> [String: String] {
        let previous = Set(run.hosts.results.compactMap(\.previous)).sorted().joined(separator: ",")
        return [
            "SHIPIT_APP": config.app, "SHIPIT_STAGE": config.stage ?? "", "SHIPIT_RELEASE": release,
            "SHIPIT_PREVIOUS_RELEASE": previous, "SHIPIT_HOSTS": config.hosts.joined(separator: ","),
            "SHIPIT_DEPLOY_TO": config.deployTo, "SHIPIT_OUTCOME": run.machine.phase.rawValue,
            "SHIPIT_ATTEMPT": attemptID,
        ]
    }

    /// Runs a deployer hook if it exists; false if it failed.
    func runHook(_ name: String, run: DeployRun) async -> Bool {
        guard hooks.exists(name) else { return true }
        let (ok, output) = await hooks.run(name, env: hookEnv(run.targetID, run: run))
        if !ok || !output.isEmpty {
            notify(DeployNotice(host: nil, step: "hook \(name)", status: ok ? .info : .failed, message: output))
        }
        await run.recorder?.event("hook \(name)", message: output, ok: ok)
        return ok
    }
}
