import FoundationEssentials

/// Drives one run: asks the state machine for the phase to run, runs that phase's runner with the
/// context and a copy of the run, applies the changes it returns, and reports how it went; the
/// machine alone decides what comes next. The only place the run's state changes. Every
/// transition and step goes to the ledger as it happens (when one is given).
struct RunDriver {
    let context: DeployContext
    /// The run as it stands: changed here and in this type's extensions only.
    var run: DeployRun

    init(_ context: DeployContext) {
        self.context = context
        run = DeployRun(hosts: context.config.hosts, request: context.request)
    }

    var config: DeployConfig { context.config }
    var notify: @Sendable (DeployNotice) -> Void { context.notify }
    var recorder: AttemptRecorder? { run.recorder }

    mutating func drive(_ operation: DeployOperation) async -> DeployReport {
        let started = ContinuousClock.now
        let rollout = operation == .deploy ? config.rollout : nil
        let warmStandby = context.strategy.traffic != nil
        if let (attempt, mode) = context.resumed {
            // The steps as the paused run planned them (the config may have changed since).
            let events = (try? await context.ledger?.steps(attemptID: attempt.id)) ?? []
            let planned = Deployment.plannedSteps(of: attempt, order: config.hosts, events: events)
            plan(planned, markHosts: false)
            // What earlier request steps measured, for this run's report.
            for e in events where e.step == "requests" {
                if let c = e.message.flatMap(RequestComparison.parse) { run.requestComparisons[c.step - 1] = c }
            }
            for h in attempt.hosts { if let step = h.rolloutStep { run.hosts.planned(host: h.host, step: step) } }
            run.machine = .resuming(
                mode, afterStep: Deployment.pausedAfter(attempt, events: events), warmStandby: warmStandby,
                rollout: machineRollout(rollout))
        } else {
            plan(
                rollout?.planSteps(hosts: config.hosts) ?? [.init(hosts: config.hosts, share: nil)],
                markHosts: rollout != nil)
            run.machine = DeployStateMachine(
                operation: operation, autoRollback: operation == .deploy ? context.options.autoRollback : true,
                warmStandby: warmStandby, rollout: machineRollout(rollout))
        }
        guard await beginRecording(operation) else {
            run.hosts.failedIn = .pending
            run.hosts.failAll(step: "ledger", error: "the attempt could not be recorded; no host was touched")
            return await report(started: started)
        }
        // The plan a `rollout promote` picks up, whatever the config says by then.
        if let rollout, context.resumed == nil, run.stepPlan.count > 1 {
            let steps = run.stepPlan.enumerated().map {
                RolloutSettings.PlannedStep(hosts: $1, share: run.requestShares[$0])
            }
            await recorder?.event("plan", message: RolloutPlanRecord(steps: steps, sticky: rollout.sticky).json)
        }
        let watch = startDeadline()
        defer { watch?.cancel() }
        let notified = notifyStart()
        await advance(.start)
        while !run.machine.phase.isTerminal {
            let phase = run.machine.phase
            let result = await runner(for: phase).run(context, run)
            apply(result)
            await advance(event(after: phase, result.outcome))
        }
        let closing = await Conclusion().run(context, run)
        apply(closing)
        let r = await report(started: started)
        await notifyEnd(r, after: notified)
        return r
    }

    /// The run's steps: each one's hosts and, for a request step, its share. A host is in the
    /// ledger with the step that switches it (a request step's hosts: the host step after it).
    mutating func plan(_ steps: [RolloutSettings.PlannedStep], markHosts: Bool) {
        run.stepPlan = steps.map(\.hosts)
        run.requestShares = [:]
        for (i, s) in steps.enumerated() {
            if let share = s.share { run.requestShares[i] = share }
            if markHosts, s.share == nil { for h in s.hosts { run.hosts.planned(host: h, step: i + 1) } }
        }
    }

    func machineRollout(_ rollout: RolloutSettings?) -> DeployStateMachine.Rollout {
        .init(
            steps: run.stepPlan.count, bake: rollout?.bakes ?? false, pauseAfter: rollout?.pauseAfter,
            requestSteps: Set(run.requestShares.keys))
    }

    /// A phase's changes, in the order it made them.
    mutating func apply(_ result: PhaseResult) {
        for change in result.changes { run.apply(change) }
    }

    /// `--deadline`: past it the run stops as on a signal (and rolls back what it switched); the
    /// command running when it passes is cut at the deadline (see `PhaseRun.remote`).
    mutating func startDeadline() -> Task<Void, Never>? {
        guard let seconds = context.options.deadline else { return nil }
        let at = ContinuousClock.now.advanced(by: .milliseconds(Int(seconds * 1000)))
        run.deadlineAt = at
        let interrupt = context.interrupt
        let notify = context.notify
        return Task {
            try? await Task.sleep(until: at, clock: .continuous)
            guard !Task.isCancelled else { return }
            interrupt.raiseDeadline()
            notify(
                DeployNotice(
                    host: nil, step: "deadline", status: .failed,
                    message: "the \(seconds) s deadline passed: stopping, rolling back what was switched"))
        }
    }

    /// The runner of each non-terminal phase. A new phase is a new state in the machine and a new
    /// line here.
    func runner(for phase: DeployPhase) -> PhaseRunner {
        switch phase {
        case .preflight:
            if run.machine.resume != nil { return ResumePreflightPhase() }
            return run.machine.operation == .rollback ? RollbackPreflightPhase() : PreflightPhase()
        case .upload: return StagePhase()
        case .migrate: return MigratePhase()
        case .warm: return WarmPhase()
        case .switch: return SwitchPhase()
        case .smokeTest: return SmokeTestPhase()
        case .bake: return BakePhase()
        case .rollingBack: return RollingBackPhase()
        case .pending, .succeeded, .failed, .rolledBack, .rollbackFailed, .paused:
            preconditionFailure("no runner for \(phase)")
        }
    }

    /// A phase's outcome as the machine's event. A signal that arrived while a phase ran lets it
    /// finish, then starts nothing new (a rollback is never interrupted).
    func event(after phase: DeployPhase, _ outcome: PhaseOutcome) -> DeployEvent {
        let anySwitched = run.hosts.anySwitched
        switch outcome {
        case .failed: return .phaseFailed(anySwitched: anySwitched)
        case .stopped: return .interrupted(anySwitched: anySwitched)
        case .done:
            if phase != .rollingBack && context.interrupt.isRaised { return .interrupted(anySwitched: anySwitched) }
            return .phaseSucceeded
        }
    }

    mutating func advance(_ event: DeployEvent) async {
        let before = run.machine.phase
        do { try run.machine.handle(event) } catch {
            preconditionFailure("invalid deploy transition from \(before) on \(event)")
        }
        switch event {
        case .interrupted:
            if run.hosts.failedIn == nil { run.hosts.failedIn = before }
            notify(DeployNotice(host: nil, step: "signal", status: .info, message: "interrupted: starting no new step"))
            await recorder?.event("signal", message: "interrupted: starting no new step")
        case .phaseFailed: if run.hosts.failedIn == nil { run.hosts.failedIn = before }
        case .start, .phaseSucceeded: break
        }
        let text = DeployPhase.transition(before, run.machine.phase)
        notify(DeployNotice(host: nil, step: "state", status: .info, message: text))
        await recorder?.transition(to: run.machine.phase.rawValue)
        await recorder?.event("state", message: text)
        await announceRolloutStep(leaving: before, on: event)
    }

    /// `rollout` notices and ledger events: a step starts (its hosts) and a step is done.
    mutating func announceRolloutStep(leaving before: DeployPhase, on event: DeployEvent) async {
        let machine = run.machine
        guard machine.rollout.steps > 1 else { return }
        let n = machine.rollout.steps
        let stepEnded =
            [.smokeTest, .bake].contains(before)
            || (before == .switch && machine.phase != .bake
                && run.requestShares[machine.step - (machine.phase == .switch ? 1 : 0)] != nil)
        if stepEnded, event == .phaseSucceeded, machine.phase != .bake {
            let done = [.succeeded, .paused].contains(machine.phase) ? machine.step : machine.step - 1
            let message: String
            if let share = run.requestShares[done] {
                let measured =
                    run.requestComparisons[done].map {
                        ", " + ProxyVerdict.summary(canary: $0.canary, baseline: $0.baseline)
                    }
                    ?? ""
                // Hosts with no release to split with (a first deploy) were switched whole.
                let whole = run.stepPlan[done].filter { run.hosts[$0]?.switchedAt != nil }
                let split = run.hosts.splitHosts.filter(run.stepPlan[done].contains).count
                message =
                    "step \(done + 1)/\(n) done: \(share) % of requests on \(split) host(s) to \(run.targetID)\(measured)"
                    + (whole.isEmpty ? "" : "; \(whole.count) host(s) had no release to split with: switched whole")
            } else {
                message =
                    "step \(done + 1)/\(n) done: \(run.stepPlan[done].count) host(s) switched and checked, \(run.reachedHosts(through: done).count) of \(config.hosts.count) on \(run.targetID)"
            }
            notify(DeployNotice(host: nil, step: "rollout", status: .ok, message: message))
            await recorder?.event("rollout", message: message)
        }
        if [.warm, .switch].contains(machine.phase), run.announcedStep != machine.step {
            run.announcedStep = machine.step
            let hosts = run.stepHosts
            let message =
                run.requestShare.map {
                    "step \(machine.step + 1)/\(n) starts: \($0) % of requests on \(hosts.count) host(s): \(hosts.joined(separator: ", "))"
                } ?? "step \(machine.step + 1)/\(n) starts: \(hosts.count) host(s): \(hosts.joined(separator: ", "))"
            notify(DeployNotice(host: nil, step: "rollout", status: .started, message: message))
            await recorder?.event("rollout", message: message)
        }
    }
}
