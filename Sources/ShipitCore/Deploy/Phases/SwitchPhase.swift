/// The atomic switch of every host to the run's release: `current` and a restart in place, or with
/// the traffic switch, the proxy pointed at the slot the release was warmed up on. A host whose
/// connection died mid-switch may be on either release: it counts as switched, so a rollback goes
/// there.
struct SwitchPhase: PhaseRunner {
    func run(_ d: Deployment) async -> PhaseOutcome {
        let id = d.targetID
        let event = d.machine.operation == .deploy ? "deploy" : "rollback"
        let failed = await Self.switchHosts(
            d, step: "switch", event: event, to: { _ in id }, slot: { d.idleSlot($0) }, targets: d.movingHosts)
        if d.machine.operation == .deploy { _ = await d.runHook("post-switch") }
        return failed.isEmpty ? .done : .failed
    }

    /// Switches `targets` to their per-host release; returns the hosts that failed.
    static func switchHosts(
        _ d: Deployment, step: String, event: String, to release: (String) -> String?, slot: (String) -> Int,
        targets: [String]
    ) async -> [String] {
        var (ids, failed) = d.releases(for: targets, step: step, release)
        var commands: [String: RemoteCommand] = [:]
        for (host, id) in ids {
            let history = d.historyLine(event: event, release: id, previous: d.state[host]?.current)
            if let slots = d.strategy.slots, d.strategy.roles.runsApp(host) {
                commands[host] = slots.switchTraffic(releaseID: id, host: host, slot: slot(host), historyLine: history)
            } else {
                commands[host] = d.strategy.switchTo(releaseID: id, host: host, historyLine: history)
            }
        }
        let plans = commands
        let results = await d.step(step, on: plans.keys.sorted()) { host in
            var r = await d.remote(host, plans[host]!)
            r.note = Self.roleNote(r.output)
            return r
        }
        failed += d.state.record(results, step: step)
        for (host, r) in results {
            if let s = r.output.first("switched") {
                d.state.switched(host: host, to: s, slot: r.output.first("slot").flatMap { Int($0) })
            } else if r.outcomeUnknown, let id = release(host) {
                d.state.switchUnknown(host: host, to: id)
            }
        }
        for host in failed { d.state.explainUnknown(host: host) }
        await d.recordHosts()
        return failed.sorted()
    }

    /// What the switch did to the host's role processes, when one needed a KILL: its stop signal
    /// was ignored for the whole stop timeout.
    static func roleNote(_ out: ScriptOutput) -> String? {
        // The public port changing hands (the traffic switch turned on or off): how long it answered no one.
        var handOver: [String] = []
        if let ms = out.first("proxy.adopted.ms") {
            handOver.append("the proxy took over the public port from the app (\(ms) ms without a listener)")
        }
        if let ms = out.first("proxy.retired.ms") {
            handOver.append("the proxy was retired; the app took over the public port (\(ms) ms)")
        }
        guard let roles = roleParts(out) else { return handOver.isEmpty ? nil : handOver.joined(separator: "; ") }
        return (handOver + [roles]).joined(separator: "; ")
    }

    private static func roleParts(_ out: ScriptOutput) -> String? {
        let restarted = out.pairs.compactMap { k, _ in
            k.hasPrefix("role.") && k.hasSuffix(".started") ? String(k.dropFirst(5).dropLast(8)) : nil
        }
        let killed = out.pairs.compactMap { k, _ in
            k.hasPrefix("role.") && k.hasSuffix(".killed") ? String(k.dropFirst(5).dropLast(7)) : nil
        }
        guard !restarted.isEmpty || !killed.isEmpty else { return nil }
        var parts: [String] = []
        if !restarted.isEmpty { parts.append("restarted \(restarted.joined(separator: ", "))") }
        for k in killed { parts.append("\(k) ignored its stop signal until the stop timeout: killed") }
        return parts.joined(separator: "; ")
    }
}
