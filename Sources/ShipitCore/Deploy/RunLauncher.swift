/// Everything a deploy or rollback needs before it starts, in one place for the CLI and the
/// benchmarks: the ledger opened for writing (a run that cannot be recorded does not start), the
/// locks of runs the ledger knows died marked stale, the fleet opened and closed around the run.
public enum RunLauncher {
    /// `transport`: the fleet's, opened by the caller (who closes it) to connect while it does
    /// other work first; nil: opened and closed here.
    public static func run(
        _ config: DeployConfig, options: Deployment.Options, interrupt: InterruptFlag,
        warn: @Sendable (String) -> Void, notify: @escaping @Sendable (DeployNotice) -> Void,
        transport: (any HostTransport)? = nil, _ body: (Deployment) async -> DeployReport
    ) async throws -> DeployReport {
        for w in Notifier.plainHTTPWarnings(config.notify) { warn(w) }
        if let transport {
            return try await run(config, on: transport, options: options, warn: warn, notify: notify, interrupt, body)
        }
        return try await withFleet(config) { transport in
            try await run(config, on: transport, options: options, warn: warn, notify: notify, interrupt, body)
        }
    }

    private static func run(
        _ config: DeployConfig, on transport: any HostTransport, options: Deployment.Options,
        warn: @Sendable (String) -> Void, notify: @escaping @Sendable (DeployNotice) -> Void,
        _ interrupt: InterruptFlag, _ body: (Deployment) async -> DeployReport
    ) async throws -> DeployReport {
        // The handshakes start now, while the ledger opens and is read: they take the longest,
        // need nothing from it, and change nothing on a host. Pre-flight uses these sessions.
        let connecting = Task { await transport.prepare(config.hosts) }
        let ledger = try await LedgerStore.openForWriting(config, warn: warn)
        var config = config
        if config.resolvedEnv != nil {
            do { config.recordEnvironment(key: try await ledger.fingerprintKey()) } catch {
                throw ShipitError("cannot read the ledger's fingerprint key: \(error)")
            }
        }
        var options = options
        options.staleHolders = await LedgerStore.deadHolders(ledger, config: config)
        if config.tolerate.unreachableAllowed(of: config.hosts.count) > 0 {
            let mustReach = config.migrations.map { [$0.migrationHost(in: config)] } ?? []
            let down = await transport.unreachable(config.hosts)
            switch config.tolerate.decide(hosts: config.hosts, unreachable: down, mustReach: mustReach) {
            case .leaveOut(let skipped):
                options.skipped = skipped
                let out = Set(skipped.map(\.host))
                config.hosts = config.hosts.filter { !out.contains($0) }
                for s in skipped {
                    notify(
                        DeployNotice(
                            host: s.host, step: "preflight", status: .info,
                            message:
                                "\(s.error): left out of this run (tolerate.unreachable \(config.tolerate.description)); once it is back, shipit sync brings it to the fleet's release"
                        ))
                }
            case .keepAll(let why?):
                notify(DeployNotice(host: nil, step: "preflight", status: .info, message: why))
            case .keepAll(nil): break
            }
        }
        let report = await body(
            Deployment(
                config: config, transport: transport, options: options, interrupt: interrupt, ledger: ledger,
                notify: notify))
        await connecting.value
        return report
    }

    /// `shipit rollout promote|abort`: the paused rollout in the ledger, picked up under its own
    /// attempt id.
    public static func resume(
        _ config: DeployConfig, mode: DeployStateMachine.Resume, options: Deployment.Options, interrupt: InterruptFlag,
        warn: @Sendable (String) -> Void, notify: @escaping @Sendable (DeployNotice) -> Void
    ) async throws -> DeployReport {
        for w in Notifier.plainHTTPWarnings(config.notify) { warn(w) }
        let ledger = try await LedgerStore.openForWriting(config, warn: warn)
        guard let attempt = try await PausedRollout.find(ledger, config: config, allowInterrupted: mode == .abort)
        else { throw PausedRollout.nothing(config) }
        // The paused run's request steps and stickiness, whatever the config says now.
        let config = RolloutPlanRecord.resumedConfig(
            config, events: (try? await ledger.steps(attemptID: attempt.id)) ?? [])
        var options = options
        options.attemptID = attempt.id
        options.staleHolders = await LedgerStore.deadHolders(ledger, config: config)
        options.reason = "rollout \(mode.rawValue) \(attempt.releaseID)"
        let opts = options
        return await withFleet(config) { transport in
            await Deployment(
                config: config, transport: transport, options: opts, interrupt: interrupt, ledger: ledger,
                notify: notify
            ).resume(attempt, mode)
        }
    }
}
