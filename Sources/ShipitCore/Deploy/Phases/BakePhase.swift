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
        var context = GateRunner.Context(
            switched: d.run.reachedHosts, stepHosts: d.run.stepHosts, step: d.machine.step + 1,
            steps: d.machine.rollout.steps)
        if let share = d.run.requestShare {
            context.share = share
            context.splitHosts = d.state.splitHosts
            context.canary = d.targetID
            // The release the rest of the requests go to (the most hosts' where they differ).
            let serving = context.splitHosts.compactMap { d.state[$0]?.current }
            context.baseline =
                Dictionary(grouping: serving, by: { $0 }).max { ($0.value.count, $1.key) < ($1.value.count, $0.key) }?
                .key
                ?? "the serving release"
        }
        let interrupt = d.context.interrupt
        let stepLabel =
            "step \(context.step)/\(context.steps)" + (context.share.map { " (\($0) % of requests)" } ?? "")
        let deadline = ContinuousClock.now.advanced(by: .milliseconds(Int(rollout.bake * 1000)))
        var extending = false
        var lastComparison: RequestComparison?
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
            if let c = round.compactMap(\.comparison).last { lastComparison = c }
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
                    await record(&d, lastComparison)
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
            // The last sample is taken when the bake time is up; a proxy gate with too few
            // requests to judge then does what its `too_few` says.
            if ContinuousClock.now >= deadline {
                let undecided = round.filter { $0.undecided == true }
                guard !undecided.isEmpty else { break }
                var extend = false
                var passed: [GateSample] = []
                for s in undecided {
                    let gate = rollout.gates.first { $0.name == s.gate }
                    guard case .proxy(_, let tooFew)? = gate?.kind, let gate else { continue }
                    let overtime = ExecRunner.seconds(ContinuousClock.now - deadline)
                    let why: String
                    switch tooFew {
                    case .pass:
                        passed.append(s)
                        continue
                    case .extend where overtime < gate.extendMax:
                        extend = true
                        if !extending {
                            d.notify(
                                DeployNotice(
                                    host: nil, step: "bake", status: .info,
                                    message:
                                        "\(stepLabel): too few requests to judge \(s.gate) (\(s.detail)): baking on, up to \(GateRunner.format(gate.extendMax)) s more (too_few: extend)"
                                ))
                        }
                        continue
                    case .extend:
                        why =
                            "gate \(s.gate): still too few requests to judge after \(GateRunner.format(gate.extendMax)) s more (too_few: extend): \(s.detail)"
                    case .fail: why = "gate \(s.gate): too few requests to judge (too_few: fail): \(s.detail)"
                    }
                    var failed = s
                    failed.ok = false
                    failed.detail = why.replacing("gate \(s.gate): ", with: "")
                    await record(&d, lastComparison)
                    await d.recorder?.event("gate", message: "\(stepLabel) · \(failed.line)", ok: false, value: s.value)
                    d.apply(.failedGate(failed))
                    for host in context.splitHosts.isEmpty ? context.stepHosts : context.splitHosts {
                        d.apply(.hostFailed(host, step: "gate \(s.gate)", error: why))
                    }
                    await d.recordHosts()
                    return .failed
                }
                for s in passed {
                    d.notify(
                        DeployNotice(
                            host: nil, step: "bake", status: .info,
                            message:
                                "\(stepLabel): \(s.gate): too few requests to judge (\(s.detail)): passed as too_few: pass says"
                        ))
                }
                guard extend else { break }
                extending = true
            }
            let next =
                extending
                ? started.advanced(by: .milliseconds(Int(rollout.interval * 1000)))
                : min(started.advanced(by: .milliseconds(Int(rollout.interval * 1000))), deadline)
            // Sleep in short slices so a signal is seen at once.
            while ContinuousClock.now < next, !interrupt.isRaised { try? await Task.sleep(for: .milliseconds(50)) }
            if interrupt.isRaised { return .stopped }
        }
        await record(&d, lastComparison)
        // The one line the default output keeps of the bake's samples (each failed one was shown).
        d.notify(
            DeployNotice(
                host: nil, step: "bake", status: .ok,
                message: "\(stepLabel): \(tally.summary(hosts: context.switched.count)); within the failure limits"))
        return .done
    }

    /// A request step's measurements: the step's line (in its `rollout` notice) and the ledger's
    /// `requests` event, per release.
    func record(_ d: inout PhaseRun, _ comparison: RequestComparison?) async {
        guard let c = comparison else { return }
        d.apply(.requestMeasured(step: d.machine.step, c))
        await d.recorder?.event("requests", message: c.json, ok: c.verdict != "fail", value: c.canary.errorRatio)
    }
}
