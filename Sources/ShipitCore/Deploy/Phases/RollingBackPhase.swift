/// Something failed after a switch: every switched host (or one whose switch outcome is unknown)
/// goes back to the release it ran before, with the same start and smoke test. A host of a first
/// deploy has none: its new release is stopped and `current` taken away (a retreat). Never
/// interrupted.
struct RollingBackPhase: PhaseRunner {
    func run(_ context: DeployContext, _ run: DeployRun) async -> PhaseResult {
        var p = PhaseRun(context, run)
        let outcome = await rollBack(&p)
        return p.finish(outcome)
    }

    func rollBack(_ d: inout PhaseRun) async -> PhaseOutcome {
        let all = d.state.switchedHosts
        let firstDeploy = d.machine.operation == .deploy ? all.filter { d.state[$0]?.previous == nil } : []
        let switched = all.filter { !firstDeploy.contains($0) }
        let split = d.state.splitHosts.filter { !all.contains($0) }
        d.notify(
            DeployNotice(
                host: nil, step: "rollback", status: .started,
                message: "rolling back \(all.count) switched host(s)"
                    + (split.isEmpty ? "" : "; \(split.count) host(s) send their split requests back")
                    + (firstDeploy.isEmpty
                        ? "" : "; \(firstDeploy.count) had no previous release: their app is stopped")))
        let event = d.machine.operation == .deploy ? "auto-rollback" : "rollback"
        // First, at once: the previous release never stopped serving the rest of the requests.
        var failed = await sendBack(&d, hosts: split)
        failed += await retreat(&d, hosts: firstDeploy)
        guard !switched.isEmpty else { return failed.isEmpty ? .done : .failed }
        let state = d.state
        let previous = Dictionary(uniqueKeysWithValues: switched.map { ($0, state[$0]?.previous) })
        var targets = switched
        if d.strategy.traffic != nil {
            // The previous release is still warm on the other slot: usually a traffic switch alone.
            // If it died, it starts there again and is smoke-tested before it gets traffic.
            let warmed = switched.filter(d.strategy.roles.runsApp)
            let cold = await WarmPhase.warm(
                &d, step: "rollback warm", release: { previous[$0] ?? nil }, hosts: warmed)
            targets = switched.filter { !cold.contains($0) }
            failed += cold
        }
        failed += await SwitchPhase.switchHosts(
            &d, step: "rollback", event: event, to: { previous[$0] ?? nil }, targets: targets)
        let back = targets.filter { !failed.contains($0) }
        let unhealthy = await SmokeTestPhase.probe(&d, step: "smoke test (rollback)", hosts: back)
        return failed.isEmpty && unhealthy.isEmpty ? .done : .failed
    }

    /// A request step undone: every request of `hosts` to the slot that serves (the new release's
    /// slot stops in the closing script, after draining). Returns those that failed.
    func sendBack(_ d: inout PhaseRun, hosts: [String]) async -> [String] {
        guard !hosts.isEmpty, let traffic = d.strategy.traffic else { return [] }
        let timeout = d.config.connection.commandTimeout
        let scripts = Dictionary(
            uniqueKeysWithValues: hosts.map { ($0, traffic.splitBack(host: $0, timeout: timeout).command) })
        let now = d
        let results = await d.step("rollback (requests)", on: hosts) { host in
            var r = await now.remote(host, scripts[host]!)
            if r.ok { r.note = "every request back to \(now.state[host]?.current ?? "the serving release")" }
            return r
        }
        let failed = d.record(results, step: "rollback (requests)")
        for (host, r) in results where r.ok { d.apply(.split(host, share: 0)) }
        await d.recordHosts()
        return failed
    }

    /// Stops the failed first release on `hosts` and takes `current` away; returns those that failed.
    func retreat(_ d: inout PhaseRun, hosts: [String]) async -> [String] {
        guard !hosts.isEmpty else { return [] }
        let id = d.targetID
        let commands = Dictionary(
            uniqueKeysWithValues: hosts.map {
                (
                    $0,
                    d.strategy.retreat(
                        releaseID: id, host: $0,
                        historyLine: d.historyLine(event: "retreat", release: id, previous: nil))
                )
            })
        let now = d
        let results = await d.step("retreat", on: hosts) { host in await now.remote(host, commands[host]!) }
        let failed = d.record(results, step: "retreat")
        for (host, r) in results.sorted(by: { $0.key < $1.key }) where r.output.first(.retreated) != nil {
            d.apply(.retreated(host, from: id, stopped: r.output.first(.stopped) == "yes"))
        }
        await d.recordHosts()
        return failed
    }
}
