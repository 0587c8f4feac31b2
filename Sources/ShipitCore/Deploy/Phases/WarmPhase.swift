/// Traffic switch: the release starts on every host's idle slot and is smoke-tested there,
/// directly, before the proxy sends it a single request. A release that fails here never served
/// a user; the slot serving traffic was not touched.
struct WarmPhase: PhaseRunner {
    func run(_ context: DeployContext, _ run: DeployRun) async -> PhaseResult {
        var p = PhaseRun(context, run)
        let id = run.targetID
        let failed = await Self.warm(
            &p, step: "warm", release: { _ in id }, hosts: run.movingHosts.filter(context.strategy.roles.runsApp),
            startedEarly: run.warmedEarly)
        return p.finish(failed.isEmpty ? .done : .failed)
    }

    /// Starts each host's release on its idle slot (a release already running there is kept), then
    /// probes the slot directly. Returns the hosts that failed (recorded).
    /// `startedEarly`: hosts whose pre-flight script already ran the start, with its output;
    /// the step is recorded from it (the ledger and the progress say where each host is).
    static func warm(
        _ d: inout PhaseRun, step: String, release: (String) -> String?, hosts: [String],
        startedEarly: [String: EarlyStart] = [:]
    ) async -> [String] {
        var (ids, failed) = d.releases(for: hosts, step: step, release)
        var commands: [String: RemoteCommand] = [:]
        var slots: [String: Int] = [:]
        for (host, id) in ids {
            let slot = d.idleSlot(host)
            slots[host] = slot
            if let early = startedEarly[host] {
                // The slot the script started it on (pre-flight's: the idle one it found itself).
                if let s = early.output.first(.slot).flatMap({ Int($0) }) { slots[host] = s }
                continue
            }
            // Pre-flight saw this release running warm on that slot: nothing to start, only to check.
            if d.state[host]?.standby == id && d.state[host]?.standbySlot == slot { continue }
            guard let slots = d.strategy.slots else { continue }
            commands[host] = slots.warm(releaseID: id, host: host, slot: slot, reuse: true)
        }
        let plans = commands
        let early = startedEarly.filter { slots[$0.key] != nil }
        var results = await d.step(step, on: early.keys.sorted()) { host in Self.result(ofStartIn: early[host]!) }
        let now = d
        results.merge(await d.step(step, on: plans.keys.sorted()) { host in await now.remote(host, plans[host]!) }) {
            $1
        }
        failed += d.record(results, step: step)
        let started = slots.keys.filter { !failed.contains($0) }.sorted()
        guard let health = d.config.health, !started.isEmpty else { return failed.sorted() }
        let probe = HealthProbe(health: health, transport: d.context.transport)
        let interrupt = d.context.interrupt
        let targets = slots
        let checks = await d.step("smoke test (slot)", on: started) { host in
            let r = await probe.check(host: host, port: targets[host], interrupt: interrupt)
            return StepResult(ok: r.healthy, output: ScriptOutput(""), error: r.healthy ? nil : r.detail)
        }
        failed += d.record(checks, step: "smoke test (slot)")
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
        let status = out.first(.warmExit).flatMap { Int32($0) } ?? -1
        guard status != 0 else {
            var r = StepResult(ok: true, output: out, exitStatus: 0)
            r.note = "started with \(early.carrier)"
            return r
        }
        return StepResult(ok: false, output: out, error: out.first(.error) ?? "exit \(status)", exitStatus: status)
    }
}
