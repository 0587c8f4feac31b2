/// GET live, then ready, on every switched host through its SSH session, retried until the
/// deadline; with the managed traffic switch, through the public port and until the proxy says the
/// new slot answered. A signal stops the waiting (the run then rolls back).
struct SmokeTestPhase: PhaseRunner {
    func run(_ context: DeployContext, _ run: DeployRun) async -> PhaseResult {
        var p = PhaseRun(context, run)
        let unhealthy = await Self.probe(&p, step: "smoke test", hosts: run.stepHosts)
        return p.finish(unhealthy.isEmpty ? .done : .failed)
    }

    /// Probes `hosts`; returns the unhealthy ones (recorded as failed at "smoke test").
    /// A host's role processes (a worker) are checked on it too: running, and their `status`
    /// command passing, retried until the same deadline.
    static func probe(_ d: inout PhaseRun, step: String, hosts: [String]) async -> [String] {
        let deadline = d.config.health?.deadline ?? DeployConfig.Health(port: 1).deadline
        let interval = d.config.health?.interval ?? DeployConfig.Health(port: 1).interval
        let roleChecks = Dictionary(
            uniqueKeysWithValues: hosts.compactMap { h in
                d.strategy.roleCheck(host: h, deadline: deadline, interval: interval).map { (h, $0) }
            })
        let transport = d.context.transport
        let probe = d.config.health.map { HealthProbe(health: $0, transport: transport) }
        let http = Set(probe == nil ? [] : hosts.filter(d.strategy.roles.runsApp))
        let checked = hosts.filter { http.contains($0) || roleChecks[$0] != nil }
        guard !checked.isEmpty else { return [] }
        let interrupt = d.context.interrupt
        let managed = d.strategy.traffic?.settings.mode == .managed
        let state = d.state
        let slots = Dictionary(uniqueKeysWithValues: hosts.map { ($0, managed ? state[$0]?.slot : nil) })
        let now = d
        let checks = await d.step(step, on: checked) { host in
            if let probe, http.contains(host) {
                let r = await probe.check(host: host, servedBy: slots[host] ?? nil, interrupt: interrupt)
                guard r.healthy else { return StepResult(ok: false, output: ScriptOutput(""), error: r.detail) }
            }
            guard let roles = roleChecks[host] else {
                return StepResult(ok: true, output: ScriptOutput(""), error: nil)
            }
            return await now.remote(host, roles)
        }
        let failed = d.record(checks, step: "smoke test")
        await d.recordHosts()
        return failed
    }
}
