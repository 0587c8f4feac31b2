import FoundationEssentials

/// The run's record: the attempt opened before anything happens, every host's state, the shared
/// ledger's run lock, and the final report that closes the attempt.
extension Deployment {
    /// Opens the attempt in the ledger before anything else happens. False (with the reason as a
    /// notice) when it cannot be written: an unrecorded run must not start.
    func beginRecording(_ operation: DeployOperation) async -> Bool {
        guard let ledger else { return true }
        if let (paused, _) = resumed {
            // The same attempt goes on: running again, under this process.
            var a = paused
            a.outcome = .running
            a.state = machine.phase.rawValue
            a.finishedAt = nil
            a.error = nil
            a.pid = invoker.pid
            a.machine = invoker.machine
            a.user = invoker.user
            let r = makeRecorder(a, in: ledger)
            await r.change { _ in }
            recorder = r
            await r.event("rollout", message: "\(resumed!.mode.rawValue) by \(deployer) (pid \(invoker.pid))")
            return true
        }
        var source: String?
        var commit: String?
        var ref: String?
        switch input {
        case .artifact(let a)?:
            commit = a.commit
            switch a.source {
            case .directory(let dir): source = URL(fileURLWithPath: dir).standardizedFileURL.path
            case .git(let repo, let r):
                source = "git \(repo)"
                ref = r
            }
        case .imageTag(let tag)?: source = "\(config.image?.name ?? ""):\(tag)"
        case nil: break
        }
        let attempt = LedgerAttempt(
            id: attemptID, app: config.app, stage: config.stage, strategy: config.strategy.rawValue,
            operation: operation.rawValue,
            releaseID: targetID, source: source, commit: commit, ref: ref, user: invoker.user, machine: invoker.machine,
            pid: invoker.pid, ci: invoker.ci, startedAt: Date(), state: machine.phase.rawValue,
            configHash: config.configHash,
            hosts: config.hosts.map { LedgerHostState(host: $0) })
        let r = makeRecorder(attempt, in: ledger)
        do {
            try await r.begin(settings: config.settings)
        } catch {
            notify(DeployNotice(host: nil, step: "ledger", status: .failed, message: "\(error)"))
            return false
        }
        recorder = r
        return true
    }

    /// The run's recorder: a write that fails mid-run becomes one notice.
    func makeRecorder(_ attempt: LedgerAttempt, in ledger: Ledger) -> AttemptRecorder {
        AttemptRecorder(ledger: ledger, attempt: attempt, redactor: redactor) { [notify] message in
            notify(DeployNotice(host: nil, step: "ledger", status: .failed, message: message))
        }
    }

    /// The shared ledger's run lock (one run of this app and stage at a time, across runners).
    /// False when another run holds it: the run fails before any host is touched.
    func takeSharedRunLock() async -> Bool {
        guard let shared = ledger as? SharedRunLock else { return true }
        do {
            if let who = try await shared.acquireRunLock(
                app: config.app, stage: config.stage, attemptID: attemptID, holder: deployer,
                waitSeconds: options.lockWaitSeconds)
            {
                state.lockHeld = true
                state.failAll(step: "preflight", error: "deploy lock held in the shared ledger by \(who)")
                notify(
                    DeployNotice(
                        host: nil, step: "lock", status: .failed,
                        message: "the shared ledger's run lock is held by \(who)"))
                return false
            }
            state.sharedLockTaken = true
            return true
        } catch {
            state.failAll(step: "preflight", error: "shared run lock: \(error)")
            return false
        }
    }

    /// Writes every host's known previous/current release and failure into the ledger.
    func recordHosts() async {
        guard let recorder else { return }
        for h in config.hosts { await recorder.host(state.ledgerState(h)) }
    }

    /// The final report; also closes the attempt in the ledger with its outcome.
    func report(started: ContinuousClock.Instant) async -> DeployReport {
        var r = DeployReport(
            operation: machine.operation.rawValue, app: config.app, releaseID: targetID, phase: machine.phase,
            failedIn: state.failedIn, interrupted: interrupt.isRaised, lockHeld: state.lockHeld,
            hosts: state.results.map {
                var h = $0
                h.error = redactor.redact(h.error)
                return h
            },
            seconds: ExecRunner.seconds(ContinuousClock.now - started))
        r.resumed = resumed?.mode.rawValue
        r.deadlineExceeded = interrupt.deadlinePassed
        if stepPlan.count > 1 {
            r.rollout = DeployReport.Rollout(
                steps: stepPlan, reached: machine.step + 1,
                failedGate: failedGate.map {
                    var g = $0
                    g.detail = redactor.redact(g.detail) ?? ""
                    return g
                })
        }
        if state.sharedLockTaken, let shared = ledger as? SharedRunLock {
            await shared.releaseRunLock(app: config.app, stage: config.stage)
            state.sharedLockTaken = false
        }
        if let recorder {
            await recordHosts()
            let id = targetID
            await recorder.change {
                $0.releaseID = id
                $0.state = r.phase.rawValue
                $0.outcome = r.outcome
                $0.finishedAt = Date()
                $0.error = r.summaryError
            }
            r.attemptID = recorder.id
            r.ledger = recorder.ledger.location
            r.changedFiles = recorder.snapshot.changedFiles
            r.configChanges = await configChanges(since: recorder.snapshot.startedAt)
            let switched = r.hosts.filter { $0.current == r.releaseID && $0.previous != $0.current }.count
            do { try await recorder.ledger.setSwitchedHosts(recorder.id, switched) } catch {
                notify(
                    DeployNotice(
                        host: nil, step: "ledger", status: .failed,
                        message: "cannot record the switched hosts: \(error)"))
            }
        }
        return r
    }

    /// The config keys that differ from the previous attempt's (redacted, as the ledger keeps them).
    func configChanges(since start: Date) async -> [String] {
        guard let ledger,
            let before = try? await ledger.attempts(
                LedgerQuery(to: start, app: config.app, stage: .some(config.stage), limit: 1)
            ).last,
            before.configHash != config.configHash,
            let old = try? await ledger.config(hash: before.configHash)
        else { return [] }
        return TimelineBuilder.diff(old, redactor.redact(settings: config.settings))
    }
}
