/// What a run does once the machine reached a terminal state, in one place: the closing script on
/// every host it locked (prune on success; keep a failed release marked for inspection; remove
/// one that never went live), each with the run's outcome in the host's history, and the hooks.
/// Like a phase, it returns what it changed (the locks it released) for the driver to apply.
struct Conclusion {
    func run(_ context: DeployContext, _ run: DeployRun) async -> PhaseResult {
        var p = PhaseRun(context, run)
        await conclude(&p)
        return p.finish(.done)
    }

    func conclude(_ d: inout PhaseRun) async {
        let id = d.targetID
        let strategy = d.strategy
        let holder = d.context.attemptID
        let outcome = DeployReport.outcome(phase: d.machine.phase, interrupted: d.context.interrupt.isRaised).rawValue
        let state = d.state
        let context = d.context
        let history: @Sendable (String) -> String = { host in
            context.historyLine(event: "outcome", release: id, previous: state[host]?.previous, outcome: outcome)
        }
        switch (d.machine.phase, d.machine.operation) {
        case (.succeeded, .deploy):
            // Each host protects its own rollback target from pruning.
            let now = d
            _ = await d.step("finish", on: d.config.hosts) { host in
                await now.remote(
                    host, strategy.finish(previous: state[host]?.previous, holder: holder, historyLine: history(host)))
            }
            d.apply(.unlockedAll)
            _ = await d.runHook("post-deploy")
        case (.succeeded, .rollback):
            await d.onLockedHosts { strategy.unlock(holder: holder, historyLine: history($0)) }
            _ = await d.runHook("on-rollback")
        case (.failed, _) where state.anySwitched:
            // Left switched (--no-rollback, or fix forward after a contract migration).
            await d.onLockedHosts {
                strategy.abandon(
                    releaseID: id, keepForInspection: true, holder: holder, historyLine: history($0), host: $0)
            }
        case (.failed, .deploy) where d.run.release != nil:
            // Nothing switched. A release that failed its warm-up is kept for inspection (and the
            // warm standby it displaced is started again); one that never ran is removed. Hosts
            // whose pre-flight or staging script started it before another host failed get their
            // standby back too (the release itself stops with the abandon).
            let ranOnSlot = state.failedIn == .warm
            await restoreStandby(d, hosts: ranOnSlot ? d.config.hosts : d.run.warmedEarly.keys.sorted())
            await d.onLockedHosts {
                strategy.abandon(
                    releaseID: id, keepForInspection: ranOnSlot, holder: holder,
                    historyLine: ranOnSlot ? history($0) : nil, host: $0)
            }
        case (.failed, _):
            await d.onLockedHosts { _ in strategy.unlock(holder: holder, historyLine: nil) }
        case (.rolledBack, _), (.rollbackFailed, _):
            _ = await d.runHook("on-rollback")
            // A later rollout step whose warm-up failed took those hosts' idle slot, where the
            // previous release was kept warm.
            if state.failedIn == .warm { await restoreStandby(d, hosts: d.run.stepHosts) }
            // Kept and marked where the release ran; removed from the hosts of steps never reached.
            let reached = Set(d.run.reachedHosts)
            await d.onLockedHosts {
                let ran = reached.contains($0)
                return strategy.abandon(
                    releaseID: id, keepForInspection: ran, holder: holder, historyLine: ran ? history($0) : nil,
                    host: $0)
            }
        case (.paused, _):
            // A paused request step keeps its share; its records stop until the next step.
            if let traffic = strategy.traffic, !state.splitHosts.isEmpty {
                let timeout = d.config.connection.commandTimeout
                let scripts = Dictionary(
                    uniqueKeysWithValues: state.splitHosts.map {
                        ($0, traffic.splitQuiet(host: $0, timeout: timeout).command)
                    })
                let now = d
                _ = await d.step("split paused", on: state.splitHosts) { host in
                    var r = await now.remote(host, scripts[host]!)
                    if r.ok { r.note = "its share stays; the proxy's records stop until the next step" }
                    return r
                }
            }
            // The lock stays on every host: the run goes on with `shipit rollout promote` (or
            // `abort`), from any machine that reads this ledger.
            d.notify(
                DeployNotice(
                    host: nil, step: "rollout", status: .info,
                    message:
                        "paused after step \(d.machine.step + 1) of \(d.machine.rollout.steps) with the deploy lock held: shipit rollout promote (next step) or shipit rollout abort (roll back the \(d.run.reachedHosts.count) switched host(s))"
                ))
            await d.recorder?.event(
                "rollout", message: "paused after step \(d.machine.step + 1) of \(d.machine.rollout.steps)")
        default:
            preconditionFailure("conclusion of a run in \(d.machine.phase)")
        }
    }

    /// The failed release took the idle slot, where the previous release was kept warm: start
    /// that one there again, so a rollback stays a traffic switch.
    func restoreStandby(_ d: PhaseRun, hosts candidates: [String]) async {
        let hosts = candidates.filter {
            d.state.locked.contains($0) && d.state[$0]?.standby != nil && d.state[$0]?.switchedAt == nil
        }
        guard !hosts.isEmpty, let slots = d.strategy.slots else { return }
        let standby = Dictionary(uniqueKeysWithValues: hosts.map { ($0, d.state[$0]?.standby) })
        let commands = Dictionary(
            uniqueKeysWithValues: hosts.map {
                ($0, slots.warm(releaseID: standby[$0]!!, host: $0, slot: d.idleSlot($0), reuse: true))
            })
        // Failures here are reported, not fatal: the slot serving traffic was never touched.
        let now = d
        _ = await d.step("restore standby", on: hosts) { host in await now.remote(host, commands[host]!) }
    }
}
