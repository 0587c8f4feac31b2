import FoundationEssentials

/// The run's record: the attempt opened before anything happens, every host's state, and the final
/// report that closes the attempt (and releases the shared ledger's run lock).
extension RunDriver {
    /// Opens the attempt in the ledger before anything else happens. False (with the reason as a
    /// notice) when it cannot be written: an unrecorded run must not start.
    mutating func beginRecording(_ operation: DeployOperation) async -> Bool {
        guard let ledger = context.ledger else { return true }
        let invoker = context.invoker
        if let (paused, mode) = context.resumed {
            // The same attempt goes on: running again, under this process.
            var a = paused
            a.outcome = .running
            a.state = run.machine.phase.rawValue
            a.finishedAt = nil
            a.error = nil
            a.pid = invoker.pid
            a.machine = invoker.machine
            a.user = invoker.user
            let r = makeRecorder(a, in: ledger)
            await r.change { _ in }
            run.recorder = r
            await r.event("rollout", message: "\(mode.rawValue) by \(context.deployer) (pid \(invoker.pid))")
            return true
        }
        var source: String?
        var commit: String?
        var ref: String?
        switch context.input {
        case .artifact(let a)?:
            commit = a.commit
            switch a.source {
            case .directory(let dir): source = URL(fileURLWithPath: dir).standardizedFileURL.path
            case .git(let repo, let r):
                source = "git \(repo)"
                ref = r
            }
        case let image?: source = image.imagePullReference(config.image?.name ?? "")
        case nil: break
        }
        let attempt = LedgerAttempt(
            id: context.attemptID, app: config.app, stage: config.stage, strategy: config.strategy.rawValue,
            operation: operation.rawValue,
            releaseID: run.targetID, source: source, commit: commit, ref: ref, user: invoker.user,
            machine: invoker.machine,
            pid: invoker.pid, ci: invoker.ci, startedAt: Date(), state: run.machine.phase.rawValue,
            configHash: config.configHash,
            hosts: config.hosts.map { LedgerHostState(host: $0) }
                + context.options.skipped.map {
                    LedgerHostState(host: $0.host, step: "preflight", status: "skipped", error: $0.error)
                })
        let r = makeRecorder(attempt, in: ledger)
        do {
            try await r.begin(settings: config.settings)
        } catch {
            notify(DeployNotice(host: nil, step: "ledger", status: .failed, message: "\(error)"))
            return false
        }
        run.recorder = r
        return true
    }

    /// The run's recorder: a write that fails mid-run becomes one notice.
    func makeRecorder(_ attempt: LedgerAttempt, in ledger: Ledger) -> AttemptRecorder {
        AttemptRecorder(ledger: ledger, attempt: attempt, redactor: context.redactor) { [notify] message in
            notify(DeployNotice(host: nil, step: "ledger", status: .failed, message: message))
        }
    }

    /// Writes every host's known previous/current release and failure into the ledger.
    func recordHosts() async {
        guard let recorder else { return }
        for h in config.hosts { await recorder.host(run.hosts.ledgerState(h)) }
    }

    /// The final report; also closes the attempt in the ledger with its outcome.
    mutating func report(started: ContinuousClock.Instant) async -> DeployReport {
        let redactor = context.redactor
        var r = DeployReport(
            operation: run.machine.operation.rawValue, app: config.app, releaseID: run.targetID,
            phase: run.machine.phase, failedIn: run.hosts.failedIn, interrupted: context.interrupt.isRaised,
            lockHeld: run.hosts.lockHeld,
            hosts: run.hosts.results.map {
                var h = $0
                h.error = redactor.redact(h.error)
                return h
            },
            seconds: ExecRunner.seconds(ContinuousClock.now - started))
        r.resumed = context.resumed?.mode.rawValue
        r.skipped = context.options.skipped
        r.deadlineExceeded = context.interrupt.deadlinePassed
        if run.stepPlan.count > 1 {
            r.rollout = DeployReport.Rollout(
                steps: run.stepPlan, reached: run.machine.step + 1,
                failedGate: run.failedGate.map {
                    var g = $0
                    g.detail = redactor.redact(g.detail) ?? ""
                    return g
                },
                shares: run.stepPlan.indices.map { run.requestShares[$0] },
                requests: run.requestComparisons.sorted { $0.key < $1.key }.map(\.value))
        }
        if run.hosts.sharedLockTaken, let shared = context.ledger as? SharedRunLock {
            await shared.releaseRunLock(app: config.app, stage: config.stage)
            run.hosts.sharedLockTaken = false
        }
        if let recorder {
            await recordHosts()
            let id = run.targetID
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
    /// A run that resolved no secrets (a rollback) records no fingerprints: those of the deploy of
    /// the release it runs stand in for them (`TimelineBuilder.SecretFill`, as `changes` does).
    func configChanges(since start: Date) async -> [String] {
        guard let ledger = context.ledger,
            let recent = try? await ledger.attempts(
                LedgerQuery(to: start, app: config.app, stage: .some(config.stage), limit: 20)),
            let before = recent.last,
            let configs = try? await ledger.configs(hashes: Array(Set(recent.map(\.configHash)))),
            let old = configs[before.configHash]
        else { return [] }
        var fill = TimelineBuilder.SecretFill()
        var filledOld = old
        for a in recent {
            guard let c = configs[a.configHash] else { continue }
            let f = fill.filled(c, release: a.releaseID)
            fill.learn(f, release: a.releaseID)
            if a.id == before.id { filledOld = f }
        }
        let new = fill.filled(context.redactor.redact(settings: config.settings), release: run.targetID)
        return filledOld == new ? [] : TimelineBuilder.diff(filledOld, new)
    }
}
