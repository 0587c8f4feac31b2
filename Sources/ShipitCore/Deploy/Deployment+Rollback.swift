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
        if let requested {
            do { try Names.identifier(requested, field: "--to") } catch {
                notify(DeployNotice(host: nil, step: "rollback", status: .failed, message: "\(error)"))
                await advance(.phaseFailed(anySwitched: false))
                return await report(operation: "rollback", release: requested, started: started)
            }
        }
        guard await preflight(requiredKB: 0) else {
            await advance(.phaseFailed(anySwitched: false))
            return await report(operation: "rollback", release: requested ?? "", started: started)
        }
        let inventory = await phase("inventory", on: config.hosts) { [self] host in await remote(host, commands.inventory()) }
        let (target, problem) = chooseTarget(requested: requested, inventory: inventory.mapValues(\.output))
        guard let target else {
            notify(DeployNotice(host: nil, step: "rollback", status: .failed, message: problem ?? "no target"))
            for h in config.hosts { hosts[h]?.failedStep = "choose target"; hosts[h]?.error = problem }
            await advance(.phaseFailed(anySwitched: false))
            await releaseLocks()
            return await report(operation: "rollback", release: requested ?? "", started: started)
        }
        notify(DeployNotice(host: nil, step: "rollback", status: .info, message: "target release \(target)"))
        await recorder?.change { $0.releaseID = target }
        await advance(.phaseSucceeded)  // nothing to upload: the release is already on every host
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

    /// The release to go back to, or why there is none.
    func chooseTarget(requested: String?, inventory: [String: ScriptOutput]) -> (String?, String?) {
        let present = config.hosts.map { Set(inventory[$0]?.all("release") ?? []) }
        if let requested {
            let missing = config.hosts.filter { !(inventory[$0]?.all("release").contains(requested) ?? false) }
            return missing.isEmpty ? (requested, nil) : (nil, "release \(requested) is not on \(missing.joined(separator: ", "))")
        }
        let failedMarks = Set(config.hosts.flatMap { inventory[$0]?.all("failed") ?? [] })
        let onAll = present.dropFirst().reduce(present.first ?? []) { $0.intersection($1) }
        let currents = config.hosts.compactMap { hosts[$0]?.current }
        let newestCurrent = currents.max() ?? ""
        if let t = onAll.filter({ $0 < newestCurrent && !failedMarks.contains($0) && !currents.contains($0) }).max() { return (t, nil) }
        return (nil, "no good release older than \(newestCurrent.isEmpty ? "the current one" : newestCurrent) is present on every host")
    }
}
