import Foundation

extension Deployment {
    /// `shipit rollback [--to ID]`: every host back to one release, with the same smoke test. With no
    /// target: the newest release older than what runs now that is present on *all* hosts and not
    /// marked failed.
    public func rollback(to requested: String?) async -> DeployReport {
        let report = await runRollback(to: requested)
        await transport.close()  // before returning: see `deploy`
        return report
    }

    func runRollback(to requested: String?) async -> DeployReport {
        let started = ContinuousClock.now
        guard await beginRecording(operation: "rollback", releaseID: requested ?? "", source: nil, commit: nil, ref: nil) else {
            return await refuse("rollback", release: requested ?? "", started: started)
        }
        await advance(.start)
        if let requested, !Self.isDigest(requested) {
            do { try Names.identifier(requested, field: "--to") } catch {
                notify(DeployNotice(host: nil, step: "rollback", status: .failed, message: "\(error)"))
                await advance(.phaseFailed(anySwitched: false))
                return await report(operation: "rollback", release: requested, started: started)
            }
        }
        // Pre-flight and the inventory in one script per host.
        guard await preflight(requiredKB: 0, withInventory: true) else {
            await advance(.phaseFailed(anySwitched: false))
            return await report(operation: "rollback", release: requested ?? "", started: started)
        }
        let (target, problem) = chooseTarget(requested: requested, inventory: preflightResults)
        guard let target else {
            notify(DeployNotice(host: nil, step: "rollback", status: .failed, message: problem ?? "no target"))
            for h in config.hosts { hosts[h]?.failedStep = "choose target"; hosts[h]?.error = problem }
            await advance(.phaseFailed(anySwitched: false))
            await releaseLocks()
            return await report(operation: "rollback", release: requested ?? "", started: started)
        }
        notify(DeployNotice(host: nil, step: "rollback", status: .info, message: "target release \(target)"))
        await recorder?.change { $0.releaseID = target }
        if let blocked = await rollbackBlocker(target: target), !options.force {
            notify(DeployNotice(host: nil, step: "rollback", status: .failed, message: blocked))
            for h in config.hosts { hosts[h]?.failedStep = "choose target"; hosts[h]?.error = blocked }
            await advance(.phaseFailed(anySwitched: false))
            await releaseLocks()
            return await report(operation: "rollback", release: target, started: started)
        }
        await advance(.phaseSucceeded)  // nothing to upload: the release is already on every host
        await advance(.phaseSucceeded)  // no migration runs on a rollback
        if await stopRequested() { await releaseLocks(); return await report(operation: "rollback", release: target, started: started) }
        await advance(.phaseSucceeded)
        let failed = await switchAndVerify("switch", release: { _ in target }, targets: config.hosts, event: "rollback")
        await settleSwitch(failed: failed, anySwitched: hosts.values.contains { $0.current == target && $0.previous != target })
        if machine.phase == .smokeTest {
            await advance(.phaseSucceeded)
            let closing = Dictionary(uniqueKeysWithValues: locked.map { host in
                (host, commands.unlock(holder: holder, historyLine: historyLine(event: "outcome", release: target, previous: hosts[host]?.previous, outcome: "succeeded")))
            })
            _ = await phase("release lock", on: locked.sorted()) { [self] host in await remote(host, closing[host]!) }
            locked.removeAll()
            _ = await runHook("on-rollback", release: target)
            return await report(operation: "rollback", release: target, started: started)
        }
        return await rollBackAfterFailure(target, started: started)
    }

    static func isDigest(_ s: String) -> Bool {
        s.range(of: "^sha256:[0-9a-f]{64}$", options: .regularExpression) != nil
    }

    func chooseTarget(requested: String?, inventory: [String: ScriptOutput]) -> (String?, String?) {
        RollbackTarget.choose(hosts: config.hosts, requested: requested, inventory: inventory,
                              currents: config.hosts.compactMap { hosts[$0]?.current })
    }

}
