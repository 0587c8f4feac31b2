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

    static func isDigest(_ s: String) -> Bool {
        s.range(of: "^sha256:[0-9a-f]{64}$", options: .regularExpression) != nil
    }

    /// The release to go back to, or why there is none. Inventories list releases oldest first.
    /// An image release can also be asked for by tag (the newest with it) or by digest.
    func chooseTarget(requested: String?, inventory: [String: ScriptOutput]) -> (String?, String?) {
        let lists = config.hosts.map { inventory[$0]?.all("release") ?? [] }
        let present = lists.map(Set.init)
        let onAll = present.dropFirst().reduce(present.first ?? []) { $0.intersection($1) }
        let order = lists.first ?? []
        if let requested {
            let resolved = Self.resolve(requested, in: order, refs: inventory[config.hosts[0]]) ?? requested
            let missing = config.hosts.filter { !(inventory[$0]?.all("release").contains(resolved) ?? false) }
            return missing.isEmpty ? (resolved, nil) : (nil, "release \(requested) is not on \(missing.joined(separator: ", "))")
        }
        let failedMarks = Set(config.hosts.flatMap { inventory[$0]?.all("failed") ?? [] })
        let currents = config.hosts.compactMap { hosts[$0]?.current }
        let newestIndex = currents.compactMap { order.firstIndex(of: $0) }.max() ?? order.count
        let candidates = order[..<min(newestIndex, order.count)].filter { onAll.contains($0) && !failedMarks.contains($0) && !currents.contains($0) }
        if let t = candidates.last { return (t, nil) }
        let newest = currents.max { (order.firstIndex(of: $0) ?? -1) < (order.firstIndex(of: $1) ?? -1) }
        return (nil, "no good release older than \(newest ?? "the current one") is present on every host")
    }

    /// `v1` → the newest release `v1-<digest12>`; `sha256:…` → the release with that digest.
    static func resolve(_ requested: String, in order: [String], refs: ScriptOutput?) -> String? {
        if order.contains(requested) { return requested }
        if requested.hasPrefix("sha256:") {
            return order.last { refs?.first("ref.\($0)")?.hasSuffix("@" + requested) == true }
        }
        return order.last { $0.hasPrefix(requested + "-") && ImageCommands.releaseID(tag: requested, digest: String($0.dropFirst(requested.count + 1))) == $0 }
    }
}
