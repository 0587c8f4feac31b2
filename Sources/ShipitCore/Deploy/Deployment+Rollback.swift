import Foundation

extension Deployment {
    /// `shipit rollback [--to ID]`: every host back to one release, with the same smoke test. With no
    /// target: the newest release older than what runs now that is present on *all* hosts and not
    /// marked failed.
    public func rollback(to requested: String?) async -> DeployReport {
        let started = ContinuousClock.now
        advance(.start)
        defer { Task { [transport] in await transport.close() } }
        if let requested {
            do { try Names.identifier(requested, field: "--to") } catch {
                notify(DeployNotice(host: nil, step: "rollback", status: .failed, message: "\(error)"))
                advance(.phaseFailed(anySwitched: false))
                return report(operation: "rollback", release: requested, started: started)
            }
        }
        guard await preflight(requiredKB: 0) else {
            advance(.phaseFailed(anySwitched: false))
            return report(operation: "rollback", release: requested ?? "", started: started)
        }
        let inventory = await phase("inventory", on: config.hosts) { [self] host in await remote(host, commands.inventory()) }
        var target: String?
        var problem: String?
        let present = config.hosts.map { Set(inventory[$0]?.output.all("release") ?? []) }
        let failedMarks = Set(config.hosts.flatMap { inventory[$0]?.output.all("failed") ?? [] })
        let onAll = present.dropFirst().reduce(present.first ?? []) { $0.intersection($1) }
        if let requested {
            let missing = config.hosts.filter { !(inventory[$0]?.output.all("release").contains(requested) ?? false) }
            if missing.isEmpty { target = requested } else { problem = "release \(requested) is not on \(missing.joined(separator: ", "))" }
        } else {
            let currents = config.hosts.compactMap { hosts[$0]?.current }
            let newestCurrent = currents.max() ?? ""
            target = onAll.filter { $0 < newestCurrent && !failedMarks.contains($0) && !currents.contains($0) }.max()
            if target == nil { problem = "no good release older than \(newestCurrent.isEmpty ? "the current one" : newestCurrent) is present on every host" }
        }
        guard let target else {
            notify(DeployNotice(host: nil, step: "rollback", status: .failed, message: problem ?? "no target"))
            for h in config.hosts { hosts[h]?.failedStep = "choose target"; hosts[h]?.error = problem }
            advance(.phaseFailed(anySwitched: false))
            await releaseLocks()
            return report(operation: "rollback", release: requested ?? "", started: started)
        }
        notify(DeployNotice(host: nil, step: "rollback", status: .info, message: "target release \(target)"))
        advance(.phaseSucceeded)  // nothing to upload: the release is already on every host
        if stopRequested() { await releaseLocks(); return report(operation: "rollback", release: target, started: started) }
        advance(.phaseSucceeded)
        let failed = await switchAndVerify("switch", release: { _ in target }, targets: config.hosts, event: "rollback")
        settleSwitch(failed: failed, anySwitched: hosts.values.contains { $0.current == target && $0.previous != target })
        if machine.phase == .smokeTest {
            advance(.phaseSucceeded)
            await releaseLocks()
            _ = runHook("on-rollback", release: target)
            return report(operation: "rollback", release: target, started: started)
        }
        return await rollBackAfterFailure(target, started: started)
    }
}
