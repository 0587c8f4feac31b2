/// GET live, then ready, on every switched host through its SSH session, retried until the
/// deadline; with the managed traffic switch, through the public port and until the proxy says the
/// new slot answered. A signal stops the waiting (the run then rolls back).
struct SmokeTestPhase: PhaseRunner {
    func run(_ d: Deployment) async -> PhaseOutcome {
        await Self.probe(d, step: "smoke test", hosts: d.stepHosts).isEmpty ? .done : .failed
    }

    /// Probes `hosts`; returns the unhealthy ones (recorded as failed at "smoke test").
    static func probe(_ d: Deployment, step: String, hosts: [String]) async -> [String] {
        guard let health = d.config.health, !hosts.isEmpty else { return [] }
        let probe = HealthProbe(health: health, transport: d.transport)
        let interrupt = d.interrupt
        let managed = d.strategy.traffic?.settings.mode == .managed
        let slots = Dictionary(uniqueKeysWithValues: hosts.map { ($0, managed ? d.state[$0]?.slot : nil) })
        let checks = await d.step(step, on: hosts) { host in
            let r = await probe.check(host: host, servedBy: slots[host] ?? nil, interrupt: interrupt)
            return StepResult(ok: r.healthy, output: ScriptOutput(""), error: r.healthy ? nil : r.detail)
        }
        let failed = d.state.record(checks, step: "smoke test")
        await d.recordHosts()
        return failed
    }
}
