/// The atomic switch (and start) of every host to the run's release. A host whose connection died
/// mid-switch may be on either release: it counts as switched, so a rollback goes there.
struct SwitchPhase: PhaseRunner {
    func run(_ d: Deployment) async -> PhaseOutcome {
        let id = d.targetID
        let event = d.machine.operation == .deploy ? "deploy" : "rollback"
        let failed = await Self.switchHosts(d, step: "switch", event: event, to: { _ in id }, targets: d.config.hosts)
        if d.machine.operation == .deploy { _ = await d.runHook("post-switch") }
        return failed.isEmpty ? .done : .failed
    }

    /// Switches `targets` to their per-host release; returns the hosts that failed.
    static func switchHosts(_ d: Deployment, step: String, event: String, to release: (String) -> String?, targets: [String]) async -> [String] {
        var commands: [String: RemoteCommand] = [:]
        var failed: [String] = []
        for host in targets {
            guard let id = release(host) else {
                d.state.fail(host: host, step: step, error: "no release to switch to")
                failed.append(host)
                continue
            }
            commands[host] = d.strategy.switchTo(releaseID: id, host: host,
                                                 historyLine: d.historyLine(event: event, release: id, previous: d.state[host]?.current))
        }
        let plans = commands
        let results = await d.step(step, on: plans.keys.sorted()) { host in await d.remote(host, plans[host]!) }
        failed += d.state.record(results, step: step)
        for (host, r) in results {
            if let s = r.output.first("switched") { d.state.switched(host: host, to: s) }
            else if r.outcomeUnknown, let id = release(host) { d.state.switchUnknown(host: host, to: id) }
        }
        for host in failed { d.state.explainUnknown(host: host) }
        await d.recordHosts()
        return failed.sorted()
    }
}
