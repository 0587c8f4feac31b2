/// GET live, then ready, on every switched host through its SSH session, retried until the
/// deadline; with the managed traffic switch, through the public port and until the proxy says the
/// new slot answered. A signal stops the waiting (the run then rolls back).
///
/// A rollback checks each host as soon as its own switch is done (`SwitchPhase`, which shows and
/// records that step): this phase then counts those results and probes only the other hosts.
struct SmokeTestPhase: PhaseRunner {
    func run(_ context: DeployContext, _ run: DeployRun) async -> PhaseResult {
        var p = PhaseRun(context, run)
        let unhealthy = await Self.probe(
            &p, step: "smoke test", hosts: run.stepHosts, checkedWithSwitch: run.smokeTestedWithSwitch)
        return p.finish(unhealthy.isEmpty ? .done : .failed)
    }

    /// One host's smoke test, made before the hosts are: what `probe` runs on each, and what a
    /// rollback's switch runs right after each host's own switch.
    struct HostCheck: Sendable {
        /// The hosts with something to check (the app's port, or a role's process).
        let checked: Set<String>
        /// The hosts whose whole check is a script on the host (role processes, no port to
        /// probe): a switch may carry it at its end, saving the check its own round trip.
        let onHost: [String: RemoteCommand]
        let check: @Sendable (_ host: String, _ servedBy: Int?) async -> StepResult

        /// The check a switch script carried (`check.exit=` and, on failure, the check's
        /// `error=` line, printed after the switch's `switched=`), or nil where none ran.
        static func result(carriedIn out: ScriptOutput) -> StepResult? {
            guard let status = out.first(.checkExit).flatMap({ Int32($0) }) else { return nil }
            guard status != 0 else {
                var r = StepResult(ok: true, output: out, exitStatus: 0)
                r.note = "checked at the end of the switch's script"
                return r
            }
            let afterSwitch = out.pairs.lastIndex { $0.0 == ScriptKey.switched.rawValue }.map { out.pairs[($0 + 1)...] }
            let error = (afterSwitch ?? out.pairs[...]).last { $0.0 == ScriptKey.error.rawValue }?.1
            return StepResult(ok: false, output: out, error: error ?? "exit \(status)", exitStatus: status)
        }
    }

    /// A host's role processes (a worker) are checked on it too: running, and their `status`
    /// command passing, retried until the same deadline.
    static func hostCheck(_ d: PhaseRun, hosts: [String]) -> HostCheck {
        let deadline = d.config.health?.deadline ?? DeployConfig.Health(port: 1).deadline
        let interval = d.config.health?.interval ?? DeployConfig.Health(port: 1).interval
        let roleChecks = Dictionary(
            uniqueKeysWithValues: hosts.compactMap { h in
                d.strategy.roleCheck(host: h, deadline: deadline, interval: interval).map { (h, $0) }
            })
        let probe = d.config.health.map { HealthProbe(health: $0, transport: d.context.transport) }
        let http = Set(probe == nil ? [] : hosts.filter(d.strategy.roles.runsApp))
        let interrupt = d.context.interrupt
        let now = d
        return HostCheck(checked: http.union(roleChecks.keys), onHost: roleChecks.filter { !http.contains($0.key) }) {
            host, slot in
            if let probe, http.contains(host) {
                let r = await probe.check(host: host, servedBy: slot, interrupt: interrupt)
                guard r.healthy else { return StepResult(ok: false, output: ScriptOutput(""), error: r.detail) }
            }
            guard let roles = roleChecks[host] else {
                return StepResult(ok: true, output: ScriptOutput(""), error: nil)
            }
            return await now.remote(host, roles)
        }
    }

    /// Probes `hosts`; returns the unhealthy ones (recorded as failed at "smoke test").
    /// `checkedWithSwitch`: hosts checked already, right after their switch (shown and in the
    /// ledger then); their outcomes count as this phase's.
    static func probe(
        _ d: inout PhaseRun, step: String, hosts: [String], checkedWithSwitch: [String: StepResult] = [:]
    ) async -> [String] {
        let hostCheck = Self.hostCheck(d, hosts: hosts)
        let checked = hosts.filter { hostCheck.checked.contains($0) && checkedWithSwitch[$0] == nil }
        let done = checkedWithSwitch.filter { hosts.contains($0.key) }
        guard !checked.isEmpty || !done.isEmpty else { return [] }
        let managed = d.strategy.traffic?.settings.mode == .managed
        let state = d.state
        let slots = Dictionary(uniqueKeysWithValues: hosts.map { ($0, managed ? state[$0]?.slot : nil) })
        var checks =
            checked.isEmpty
            ? [:] : await d.step(step, on: checked) { host in await hostCheck.check(host, slots[host] ?? nil) }
        checks.merge(done) { a, _ in a }
        let failed = d.record(checks, step: "smoke test")
        await d.recordHosts()
        return failed
    }
}
