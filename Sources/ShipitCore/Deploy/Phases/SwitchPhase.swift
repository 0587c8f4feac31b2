import FoundationEssentials

/// The atomic switch of every host to the run's release: `current` and a restart in place, or with
/// the traffic switch, the proxy pointed at the slot the release was warmed up on. A host whose
/// connection died mid-switch may be on either release: it counts as switched, so a rollback goes
/// there.
struct SwitchPhase: PhaseRunner {
    func run(_ context: DeployContext, _ run: DeployRun) async -> PhaseResult {
        var p = PhaseRun(context, run)
        let id = run.targetID
        let event = run.machine.operation == .deploy ? "deploy" : "rollback"
        if let share = run.requestShare {
            let failed = await Self.splitRequests(&p, share: share)
            return p.finish(failed.isEmpty ? .done : .failed)
        }
        // The hosts a request step found with nothing to split with were switched then.
        let targets = run.movingHosts.filter { !(run.hosts[$0]?.switchedAt != nil && run.hosts[$0]?.current == id) }
        // A rollback smoke-tests each host as soon as its own switch is done.
        let then = run.machine.operation == .rollback ? SmokeTestPhase.hostCheck(p, hosts: targets) : nil
        let failed = await Self.switchHosts(
            &p, step: "switch", event: event, to: { _ in id }, targets: targets, then: then)
        if run.machine.operation == .deploy { _ = await p.runHook("post-switch") }
        return p.finish(failed.isEmpty ? .done : .failed)
    }

    /// Switches `targets` to their per-host release, each on its idle slot with the traffic
    /// switch; returns the hosts that failed. `then`: each host's smoke test, run as soon as its
    /// own switch is done (its result applied as `smokeTestedWithSwitch`).
    static func switchHosts(
        _ d: inout PhaseRun, step: String, event: String, to release: (String) -> String?, targets: [String],
        then: SmokeTestPhase.HostCheck? = nil
    ) async -> [String] {
        var (ids, failed) = d.releases(for: targets, step: step, release)
        var commands: [String: RemoteCommand] = [:]
        for (host, id) in ids {
            let history = d.historyLine(event: event, release: id, previous: d.state[host]?.current)
            if let slots = d.strategy.slots, d.strategy.roles.runsApp(host) {
                commands[host] = slots.switchTraffic(
                    releaseID: id, host: host, slot: d.idleSlot(host), historyLine: history)
            } else {
                commands[host] = d.strategy.switchTo(releaseID: id, host: host, historyLine: history)
            }
            if let carried = then?.onHost[host], let own = commands[host] {
                // Each part keeps the time it had on its own channel.
                let each = d.config.connection.commandTimeout
                var both = own.thenContained(carried, as: "check")
                both.timeout = (own.timeout ?? each) + (carried.timeout ?? each)
                commands[host] = both
            }
        }
        let plans = commands
        let now = d
        let managed = d.strategy.traffic?.settings.mode == .managed
        let interrupt = d.context.interrupt
        let switchHost: @Sendable (String) async -> StepResult = { host in
            await now.step(step, on: [host]) { host in
                var r = await now.remote(host, plans[host]!)
                r.note = Self.roleNote(r.output)
                return r
            }[host]!
        }
        var check: (@Sendable (String, StepResult) async -> StepResult?)?
        if let then {
            check = { host, r in
                // After a signal no step starts; a host not switched has nothing to check.
                guard r.ok, let id = r.output.first(.switched), then.checked.contains(host), !interrupt.isRaised
                else { return nil }
                let slot = r.output.first(.slot).flatMap { Int($0) }
                // Shown and recorded as it happens, the ledger's row saying where the host is now;
                // the smoke test phase counts its outcome.
                var after = now
                after.apply(.switched(host, to: id, slot: slot, at: Date()))
                let carried = then.onHost[host] == nil ? nil : SmokeTestPhase.HostCheck.result(carriedIn: r.output)
                let checked: [String: StepResult] = await after.step("smoke test", on: [host]) { host in
                    if let carried { return carried }
                    return await then.check(host, managed ? slot : nil)
                }
                return checked[host]
            }
        }
        let (results, checks) = await Self.switchThenCheck(
            plans.keys.sorted(), limit: d.config.connection.parallel, switchHost: switchHost, check: check)
        for (host, checked) in checks.sorted(by: { $0.key < $1.key }) {
            d.apply(.smokeTestedWithSwitch(host, checked))
        }
        failed += d.record(results, step: step)
        for (host, r) in results.sorted(by: { $0.key < $1.key }) {
            if let s = r.output.first(.switched) {
                d.apply(.switched(host, to: s, slot: r.output.first(.slot).flatMap { Int($0) }, at: Date()))
                // The switch ended the host's request split too.
                if d.state.splitHosts.contains(host) { d.apply(.split(host, share: 0)) }
            } else if r.outcomeUnknown, let id = release(host) {
                d.apply(.switchUnknown(host, to: id))
            }
        }
        for host in failed { d.apply(.explainUnknown(host)) }
        // A switch that failed, or a signal, ends the phase before the smoke test's: the checks
        // made that failed are the hosts' failures all the same.
        if !failed.isEmpty || d.context.interrupt.isRaised { _ = d.record(checks, step: "smoke test") }
        await d.recordHosts()
        return failed.sorted()
    }

    /// Each host's switch, at most `limit` at once, and as soon as one is done its `check` (with
    /// its own `limit`: a slow check never holds back another host's switch). Returns the
    /// switches' results and the checks made (a `check` that returns nil made none).
    static func switchThenCheck(
        _ hosts: [String], limit: Int, switchHost: @escaping @Sendable (String) async -> StepResult,
        check: (@Sendable (String, StepResult) async -> StepResult?)?
    ) async -> (switched: [String: StepResult], checked: [String: StepResult]) {
        enum Done: Sendable {
            case switched(String, StepResult)
            case checked(String, StepResult?)
        }
        return await withTaskGroup(of: Done.self) { group in
            var switched: [String: StepResult] = [:]
            var checked: [String: StepResult] = [:]
            var next = 0
            var checking = 0
            var waiting: [(String, StepResult)] = []
            let limit = max(1, limit)
            func startSwitch() {
                let host = hosts[next]
                next += 1
                group.addTask { .switched(host, await switchHost(host)) }
            }
            func startCheck(_ host: String, _ r: StepResult) {
                guard let check else { return }
                checking += 1
                group.addTask { .checked(host, await check(host, r)) }
            }
            while next < hosts.count && next < limit { startSwitch() }
            for await done in group {
                switch done {
                case .switched(let host, let r):
                    switched[host] = r
                    if next < hosts.count { startSwitch() }
                    if checking < limit { startCheck(host, r) } else { waiting.append((host, r)) }
                case .checked(let host, let r):
                    checking -= 1
                    if let r { checked[host] = r }
                    if !waiting.isEmpty {
                        let (host, r) = waiting.removeFirst()
                        startCheck(host, r)
                    }
                }
            }
            return (switched, checked)
        }
    }

    /// A request step: on each host of the step that runs the app, `share` % of the requests to the
    /// slot the release was warmed up on, the rest to the slot serving now. A host with no release
    /// serving (its first) has nothing to compare with: it is switched whole. Returns the hosts
    /// that failed.
    static func splitRequests(_ d: inout PhaseRun, share: Int) async -> [String] {
        guard let traffic = d.strategy.traffic else { return [] }
        let id = d.targetID
        // Hosts an earlier request step switched whole (nothing to split with) stay as they are.
        let hosts = d.run.stepHosts.filter(d.strategy.roles.runsApp).filter {
            !(d.state[$0]?.switchedAt != nil && d.state[$0]?.current == id)
        }
        let first = hosts.filter { d.state[$0]?.slot == nil }
        var failed: [String] = []
        if !first.isEmpty {
            failed += await switchHosts(&d, step: "switch", event: "deploy", to: { _ in id }, targets: first)
        }
        let splitting = hosts.filter { !first.contains($0) }
        var scripts: [String: RemoteCommand] = [:]
        for host in splitting {
            scripts[host] =
                traffic.splitRequests(
                    host: host, releaseID: id, slot: d.idleSlot(host), share: share,
                    timeout: d.config.connection.commandTimeout
                ).command
        }
        let plans = scripts
        let now = d
        let results = await d.step("split \(share) %", on: splitting) { host in
            var r = await now.remote(host, plans[host]!)
            if r.ok { r.note = "\(share) % of requests to \(id)" }
            return r
        }
        failed += d.record(results, step: "split \(share) %")
        for (host, r) in results.sorted(by: { $0.key < $1.key }) {
            // A split whose outcome is unknown is sent back like one that happened.
            if r.ok || r.outcomeUnknown { d.apply(.split(host, share: r.ok ? share : 100)) }
        }
        await d.recordHosts()
        return failed.sorted()
    }

    /// What the switch did to the host's role processes, when one needed a KILL: its stop signal
    /// was ignored for the whole stop timeout.
    static func roleNote(_ out: ScriptOutput) -> String? {
        // The public port changing hands (the traffic switch turned on or off): how long it answered no one.
        var handOver: [String] = []
        if let ms = out.first(.proxyAdoptedMS) {
            handOver.append("the proxy took over the public port from the app (\(ms) ms without a listener)")
        }
        if let ms = out.first(.proxyRetiredMS) {
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
