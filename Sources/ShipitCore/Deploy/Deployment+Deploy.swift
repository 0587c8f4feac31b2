import Foundation

extension Deployment {
    /// `shipit deploy`: the whole state machine for one artifact.
    public func deploy(_ artifact: Artifact) async -> DeployReport {
        let started = ContinuousClock.now
        let id = artifact.releaseID
        advance(.start)
        defer { Task { [transport] in await transport.close() } }

        // pre-flight: hooks, then every host, before anything changes anywhere.
        guard runHook("pre-flight", release: id) else { advance(.phaseFailed(anySwitched: false)); return report(operation: "deploy", release: id, started: started) }
        let neededKB = Int64(Double(artifact.size) * max(config.diskFactor, 1) / 1024) + 1
        guard await preflight(requiredKB: neededKB) else {
            advance(.phaseFailed(anySwitched: false))
            return report(operation: "deploy", release: id, started: started)
        }
        if stopRequested() { return await finishFailed(id, started: started) }
        advance(.phaseSucceeded)

        // upload + extract: once per host, checksum verified there.
        let extract = commands.extract(releaseID: id, sha256: artifact.sha256, shared: config.shared)
        let uploadPath = config.layout.upload(id)
        let uploads = await phase("upload", on: config.hosts) { [self] host in
            do { try await transport.upload(host, localPath: artifact.path, remotePath: uploadPath) } catch {
                return (false, ScriptOutput(""), ErrorText.withoutHost(error))
            }
            return await remote(host, extract)
        }
        if !record(uploads, step: "upload").isEmpty {
            advance(.phaseFailed(anySwitched: false))
            return await finishFailed(id, started: started)
        }
        if stopRequested() { return await finishFailed(id, started: started) }
        guard runHook("pre-switch", release: id) else {
            advance(.phaseFailed(anySwitched: false))
            return await finishFailed(id, started: started)
        }
        advance(.phaseSucceeded)

        // switch + start, then smoke test every host.
        let failed = await switchAndVerify("switch", release: { _ in id }, targets: config.hosts, event: "deploy")
        _ = runHook("post-switch", release: id)
        settleSwitch(failed: failed, anySwitched: hosts.values.contains { $0.current == id })
        if machine.phase != .smokeTest { return await rollBackAfterFailure(id, started: started) }
        advance(.phaseSucceeded)  // → succeeded

        // Each host protects its own rollback target from pruning.
        _ = await phase("finish", on: config.hosts) { [self] host in
            await remote(host, commands.finish(keep: config.keepReleases, previous: hosts[host]?.previous, holder: holder))
        }
        locked.removeAll()
        _ = runHook("post-deploy", release: id)
        return report(operation: "deploy", release: id, started: started)
    }

    /// Nothing switched: remove the half-uploaded release everywhere and release our locks.
    func finishFailed(_ id: String, started: ContinuousClock.Instant) async -> DeployReport {
        await onLockedHosts(commands.abandon(releaseID: id, keepForInspection: false, holder: holder))
        return report(operation: "deploy", release: id, started: started)
    }

    /// Some host switched and something failed: every switched host goes back to its previous
    /// release (start + smoke test); the failed release is kept, marked failed, for inspection.
    func rollBackAfterFailure(_ id: String, started: ContinuousClock.Instant) async -> DeployReport {
        if machine.phase == .rollingBack {
            let switched = config.hosts.filter { hosts[$0]?.current == id }
            notify(DeployNotice(host: nil, step: "rollback", status: .started, message: "rolling back \(switched.count) switched host(s)"))
            let stillFailing = await switchAndVerify("rollback", release: { [self] in hosts[$0]?.previous }, targets: switched, event: "auto-rollback")
            advance(stillFailing.isEmpty ? .phaseSucceeded : .phaseFailed(anySwitched: true))
            _ = runHook("on-rollback", release: id)
        }
        await onLockedHosts(commands.abandon(releaseID: id, keepForInspection: true, holder: holder))
        return report(operation: "deploy", release: id, started: started)
    }
}
