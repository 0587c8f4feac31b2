/// Traffic switch: the release starts on every host's idle slot and is smoke-tested there,
/// directly, before the proxy sends it a single request. A release that fails here never served
/// a user; the slot serving traffic was not touched.
struct WarmPhase: PhaseRunner {
    func run(_ d: Deployment) async -> PhaseOutcome {
        let id = d.targetID
        let failed = await Self.warm(
            d, step: "warm", release: { _ in id }, slot: { d.idleSlot($0) },
            hosts: d.movingHosts.filter(d.strategy.roles.runsApp),
            startedEarly: d.warmedEarly)
        return failed.isEmpty ? .done : .failed
    }

    /// Starts each host's release on its slot (a release already running there is kept), then
    /// probes the slot directly. Returns the hosts that failed (recorded).
    /// `startedEarly`: hosts whose pre-flight script already ran the start, with its output;
    /// the step is recorded from it (the ledger and the progress say where each host is).
    static func warm(
        _ d: Deployment, step: String, release: (String) -> String?, slot: (String) -> Int, hosts: [String],
        startedEarly: [String: EarlyStart] = [:]
    ) async -> [String] {
        var (ids, failed) = d.releases(for: hosts, step: step, release)
        var commands: [String: RemoteCommand] = [:]
        var slots: [String: Int] = [:]
        for (host, id) in ids {
            slots[host] = slot(host)
            if let early = startedEarly[host] {
                // The slot the script started it on (pre-flight's: the idle one it found itself).
                if let s = early.output.first("slot").flatMap({ Int($0) }) { slots[host] = s }
                continue
            }
            // Pre-flight saw this release running warm on that slot: nothing to start, only to check.
            if d.state[host]?.standby == id && d.state[host]?.standbySlot == slot(host) { continue }
            guard let slots = d.strategy.slots else { continue }
            commands[host] = slots.warm(releaseID: id, host: host, slot: slot(host), reuse: true)
        }
        let plans = commands
        let early = startedEarly.filter { slots[$0.key] != nil }
        var results = await d.step(step, on: early.keys.sorted()) { host in Self.result(ofStartIn: early[host]!) }
        results.merge(await d.step(step, on: plans.keys.sorted()) { host in await d.remote(host, plans[host]!) }) { $1 }
        failed += d.state.record(results, step: step)
        let started = slots.keys.filter { !failed.contains($0) }.sorted()
        guard let health = d.config.health, !started.isEmpty else { return failed.sorted() }
        let probe = HealthProbe(health: health, transport: d.transport)
        let interrupt = d.interrupt
        let targets = slots
        let checks = await d.step("smoke test (slot)", on: started) { host in
            let r = await probe.check(host: host, port: targets[host], interrupt: interrupt)
            return StepResult(ok: r.healthy, output: ScriptOutput(""), error: r.healthy ? nil : r.detail)
        }
        failed += d.state.record(checks, step: "smoke test (slot)")
        await d.recordHosts()
        return failed.sorted()
    }
}

extension WarmPhase {
    /// A start that rode at the end of an earlier step's script: what that script printed, and
    /// which step it was (for the progress line).
    struct EarlyStart: Sendable {
        var output: ScriptOutput
        var carrier: String
    }

    /// The warm-up an earlier script carried, as its own step's result: `warm.exit=` and, on
    /// failure, the warm-up's `error=` line (the carrying script's own part had succeeded).
    static func result(ofStartIn early: EarlyStart) -> StepResult {
        let out = early.output
        let status = out.first("warm.exit").flatMap { Int32($0) } ?? -1
        guard status != 0 else {
            var r = StepResult(ok: true, output: out, exitStatus: 0)
            r.note = "started with \(early.carrier)"
            return r
        }
        return StepResult(ok: false, output: out, error: out.first("error") ?? "exit \(status)", exitStatus: status)
    }
}

extension Deployment {
    /// The slot a host's next release starts on: the one not serving traffic.
    func idleSlot(_ host: String) -> Int {
        strategy.traffic?.settings.idle(after: state[host]?.slot) ?? 0
    }
}
