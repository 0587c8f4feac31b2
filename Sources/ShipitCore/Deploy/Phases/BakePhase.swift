import FoundationEssentials

/// Progressive rollout: after a step's smoke test, the release is watched for `bake` seconds while
/// every gate is sampled each `interval` (at least once). A gate whose failed samples exceed its
/// `failure_limit` fails the step, and with it the run: every host switched so far rolls back.
/// A signal stops the bake (and the run rolls back).
struct BakePhase: PhaseRunner {
    func run(_ context: DeployContext, _ run: DeployRun) async -> PhaseResult {
        var p = PhaseRun(context, run)
        let outcome = await bake(&p)
        return p.finish(outcome)
    }

    func bake(_ d: inout PhaseRun) async -> PhaseOutcome {
        guard let rollout = d.config.rollout else { return .done }
        var runner = GateRunner(
            gates: rollout.gates, health: d.config.health, transport: d.context.transport,
            environment: d.hookEnv(d.targetID))
        runner.strategy = d.strategy
        let context = GateRunner.Context(
            switched: d.run.reachedHosts, stepHosts: d.run.stepHosts, step: d.machine.step + 1,
            steps: d.machine.rollout.steps)
        let interrupt = d.context.interrupt
        let stepLabel = "step \(context.step)/\(context.steps)"
        let deadline = ContinuousClock.now.advanced(by: .milliseconds(Int(rollout.bake * 1000)))
        var failures: [String: Int] = [:]
        var tally = GateTally(gates: rollout.gates)
        d.notify(
            DeployNotice(
                host: nil, step: "bake", status: .started,
                message:
                    "\(stepLabel): watching \(context.switched.count) host(s) for \(GateRunner.format(rollout.bake)) s, gates: \(rollout.gates.map(\.name).joined(separator: ", "))"
            ))
        while true {
            let started = ContinuousClock.now
            let round = await runner.sample(context)
            tally.add(round: round)
            for s in round {
                let line = "\(stepLabel) · \(s.line)"
                d.notify(
                    DeployNotice(
                        host: s.host, step: "gate", status: s.ok ? .ok : .failed, message: "\(s.gate): \(s.detail)",
                        seconds: ExecRunner.seconds(ContinuousClock.now - started)))
                await d.recorder?.event("gate", message: line, ok: s.ok, value: s.value)
                guard !s.ok else { continue }
                failures[s.gate, default: 0] += 1
                let limit = rollout.gates.first { $0.name == s.gate }?.failureLimit ?? 0
                if failures[s.gate]! > limit {
                    d.apply(.failedGate(s))
                    let why = "gate \(s.gate) failed \(failures[s.gate]!) time(s) (limit \(limit)): \(s.detail)"
                    for host in s.host.map({ [$0] }) ?? context.stepHosts {
                        d.apply(.hostFailed(host, step: "gate \(s.gate)", error: why))
                    }
                    await d.recordHosts()
                    return .failed
                }
            }
            if interrupt.isRaised { return .stopped }
            // The last sample is taken when the bake time is up.
            guard ContinuousClock.now < deadline else { break }
            let next = min(started.advanced(by: .milliseconds(Int(rollout.interval * 1000))), deadline)
            // Sleep in short slices so a signal is seen at once.
            while ContinuousClock.now < next, !interrupt.isRaised { try? await Task.sleep(for: .milliseconds(50)) }
            if interrupt.isRaised { return .stopped }
        }
        // The one line the default output keeps of the bake's samples (each failed one was shown).
        d.notify(
            DeployNotice(
                host: nil, step: "bake", status: .ok,
                message: "\(stepLabel): \(tally.summary(hosts: context.switched.count)); within the failure limits"))
        return .done
    }
}
