import Foundation

extension Deployment {
    /// `shipit deploy`: the whole state machine for one artifact. Every session is closed before
    /// it returns (a process exiting while libssh2 still works on another thread crashes in OpenSSL).
    public func deploy(_ artifact: Artifact) async -> DeployReport {
        let report = await runDeploy(artifact)
        await transport.close()
        return report
    }

    func runDeploy(_ artifact: Artifact) async -> DeployReport {
        let started = ContinuousClock.now
        let id = artifact.releaseID
        let source: String
        var ref: String?
        switch artifact.source {
        case let .directory(dir): source = URL(fileURLWithPath: dir).standardizedFileURL.path
        case let .git(repo, r): source = "git \(repo)"; ref = r
        }
        guard await beginRecording(operation: "deploy", releaseID: id, source: source, commit: artifact.commit, ref: ref) else {
            return await refuse("deploy", release: id, started: started)
        }
        await advance(.start)

        // pre-flight: hooks, then every host, before anything changes anywhere.
        guard await runHook("pre-flight", release: id) else {
            await advance(.phaseFailed(anySwitched: false))
            return await report(operation: "deploy", release: id, started: started)
        }
        if await stopRequested() { return await report(operation: "deploy", release: id, started: started) }
        let neededKB = Int64(Double(artifact.size) * max(config.diskFactor, 1) / 1024) + 1
        guard await preflight(requiredKB: neededKB), await checkMigrations() else {
            await advance(.phaseFailed(anySwitched: false))
            return await report(operation: "deploy", release: id, started: started)
        }
        if await stopRequested() { return await finishFailed(id, started: started) }
        await advance(.phaseSucceeded)

        // upload + extract: once per host, checksum verified there.
        let extract = symlink.extract(releaseID: id, sha256: artifact.sha256, shared: config.shared)
        let uploadPath = config.layout.upload(id)
        let uploads = await phase("upload", on: config.hosts) { [self] host in
            do { try await transport.upload(host, localPath: artifact.path, remotePath: uploadPath) } catch {
                return StepResult(failure: ErrorText.withoutHost(error))
            }
            return await remote(host, extract)
        }
        await recordChanges(uploads)
        return await afterStaging(uploads, step: "upload", id: id, started: started)
    }

    /// Both strategies once the release is on every host (uploaded, or its container created):
    /// abandon it if any host failed; else the pre-switch hook, then switch and verify.
    func afterStaging(_ results: [String: StepResult], step: String, id: String, started: ContinuousClock.Instant) async -> DeployReport {
        if !record(results, step: step).isEmpty {
            await advance(.phaseFailed(anySwitched: false))
            return await finishFailed(id, started: started)
        }
        if await stopRequested() { return await finishFailed(id, started: started) }
        await advance(.phaseSucceeded)  // → migrate
        guard await runMigrations(id), await runHook("pre-switch", release: id) else {
            await advance(.phaseFailed(anySwitched: false))
            return await finishFailed(id, started: started)
        }
        if await stopRequested() { return await finishFailed(id, started: started) }
        await advance(.phaseSucceeded)  // → switch
        return await switchVerifyAndFinish(id, started: started)
    }

    /// Both strategies from the switch on: switch + start, smoke test every host, then either
    /// finish (prune, unlock) or roll every switched host back.
    func switchVerifyAndFinish(_ id: String, started: ContinuousClock.Instant) async -> DeployReport {
        let failed = await switchAndVerify("switch", release: { _ in id }, targets: config.hosts, event: "deploy")
        _ = await runHook("post-switch", release: id)
        await settleSwitch(failed: failed, anySwitched: hosts.values.contains { $0.current == id || $0.switchingTo == id })
        if machine.phase != .smokeTest { return await rollBackAfterFailure(id, started: started) }
        await advance(.phaseSucceeded)  // → succeeded

        // Each host protects its own rollback target from pruning.
        _ = await phase("finish", on: config.hosts) { [self] host in
            await remote(host, commands.finish(keep: config.keepReleases, previous: hosts[host]?.previous, holder: holder,
                                               historyLine: historyLine(event: "outcome", release: id, previous: hosts[host]?.previous, outcome: "succeeded")))
        }
        locked.removeAll()
        _ = await runHook("post-deploy", release: id)
        return await report(operation: "deploy", release: id, started: started)
    }

    /// The files changed against the previous release, as the first host that had one reported them.
    func recordChanges(_ uploads: [String: StepResult]) async {
        guard let recorder else { return }
        for host in config.hosts {
            guard let out = uploads[host]?.output, let count = out.first("changed").flatMap(Int.init) else { continue }
            await recorder.change {
                $0.changedCount = count
                $0.changedFiles = out.all("change")
            }
            return
        }
    }

    /// The ledger could not record the run: nothing was started, nothing is touched.
    func refuse(_ operation: String, release: String, started: ContinuousClock.Instant) async -> DeployReport {
        failedIn = .pending
        for h in config.hosts { hosts[h]?.failedStep = "ledger"; hosts[h]?.error = "the attempt could not be recorded; no host was touched" }
        return await report(operation: operation, release: release, started: started)
    }

    /// Nothing switched: remove the half-uploaded release everywhere and release our locks.
    func finishFailed(_ id: String, started: ContinuousClock.Instant) async -> DeployReport {
        await onLockedHosts(commands.abandon(releaseID: id, keepForInspection: false, holder: holder, historyLine: nil))
        return await report(operation: "deploy", release: id, started: started)
    }

    /// Some host switched and something failed: every switched host goes back to its previous
    /// release (start + smoke test); the failed release is kept, marked failed, for inspection.
    func rollBackAfterFailure(_ id: String, started: ContinuousClock.Instant) async -> DeployReport {
        if machine.phase == .rollingBack {
            let switched = config.hosts.filter { hosts[$0]?.current == id || hosts[$0]?.switchingTo == id }
            notify(DeployNotice(host: nil, step: "rollback", status: .started, message: "rolling back \(switched.count) switched host(s)"))
            let stillFailing = await switchAndVerify("rollback", release: { [self] in hosts[$0]?.previous }, targets: switched, event: "auto-rollback")
            await advance(stillFailing.isEmpty ? .phaseSucceeded : .phaseFailed(anySwitched: true))
            _ = await runHook("on-rollback", release: id)
        }
        let outcome = DeployReport.outcome(phase: machine.phase, interrupted: interrupt.isRaised).rawValue
        // One closing script per host, each with its own history line.
        let closing = Dictionary(uniqueKeysWithValues: locked.map { host in
            (host, commands.abandon(releaseID: id, keepForInspection: true, holder: holder,
                                    historyLine: historyLine(event: "outcome", release: id, previous: hosts[host]?.previous, outcome: outcome)))
        })
        _ = await phase("release lock", on: locked.sorted()) { [self] host in await remote(host, closing[host]!) }
        locked.removeAll()
        return await report(operation: "deploy", release: id, started: started)
    }
}
