/// How a phase ended, for the state machine: finished everywhere, failed on some host, or did not
/// start its host steps because a signal arrived.
enum PhaseOutcome: Sendable, Equatable {
    case done, failed, stopped
}

/// Runs one non-terminal phase of a run. It acts on hosts through the run's steps and records
/// per-host outcomes in the run's state; it never picks the next phase.
protocol PhaseRunner {
    func run(_ run: Deployment) async -> PhaseOutcome
}

extension Deployment {
    /// Each target's release; a target without one (nothing to go back to) fails at `step`.
    func releases(for targets: [String], step: String, _ release: (String) -> String?) -> (
        ids: [String: String], failed: [String]
    ) {
        var ids: [String: String] = [:]
        var failed: [String] = []
        for host in targets {
            if let id = release(host) {
                ids[host] = id
            } else {
                state.fail(host: host, step: step, error: "no release to switch to")
                failed.append(host)
            }
        }
        return (ids, failed)
    }

    /// Runs a lock-taking pre-flight script on every host and reads what it found: the lock,
    /// stale locks taken over, each host's current release. nil if any host failed.
    /// `stdinPath`: a file streamed on the script's stdin (a deploy's artifact, staged in the same
    /// channel once the host passed its checks).
    func lockingPreflight(stdinPath: String? = nil, _ command: @escaping @Sendable (String) -> RemoteCommand) async
        -> [String: ScriptOutput]?
    {
        let results = await step("preflight", on: config.hosts) { [self] host in
            await remote(host, command(host), stdinPath: stdinPath)
        }
        for (host, r) in results where r.output.first("extracted") != nil { stagedInPreflight[host] = r.output }
        for (host, r) in results where r.output.first("warm.exit") != nil {
            warmedEarly[host] = .init(output: r.output, carrier: "the pre-flight")
        }
        for (host, r) in results {
            if r.output.first("lock") == "acquired" { state.locked.insert(host) }
            if let stale = r.output.first("lock.stale"), stale == attemptID {
                notify(
                    DeployNotice(
                        host: host, step: "preflight", status: .info,
                        message: "took up the lock this paused rollout left"))
            } else if let stale = r.output.first("lock.stale") {
                notify(
                    DeployNotice(
                        host: host, step: "preflight", status: .info,
                        message: "took over the lock left by attempt \(stale) (that run is over)"))
            }
            state.found(host: host, current: r.output.first("current").flatMap { $0.isEmpty ? nil : $0 })
            if let traffic = strategy.traffic {
                let active = r.output.first("slot.active").flatMap { Int($0) }
                let idle = traffic.settings.idle(after: active)
                let other = r.output.first("slot.\(idle)")?.split(separator: " ").map(String.init) ?? []
                state.foundSlots(
                    host: host, active: active, standby: other.count == 2 && other[1] == "running" ? other[0] : nil,
                    standbySlot: idle)
            }
            if r.error?.hasPrefix("deploy lock held") == true { state.lockHeld = true }
        }
        let failed = state.record(results, step: "preflight")
        if state.lockHeld { await explainPausedHolder(results.values.compactMap(\.error)) }
        await recordHosts()
        return failed.isEmpty ? results.mapValues(\.output) : nil
    }

    /// A lock held by a paused rollout is not a run to wait for: say so, and what to do.
    func explainPausedHolder(_ errors: [String]) async {
        guard let ledger else { return }
        let holders = Set(
            errors.compactMap { e -> String? in
                guard let r = e.firstRange(of: "holder=") else { return nil }
                return e[r.upperBound...].split(separator: " ").first.map(String.init)
            })
        for id in holders.sorted() where id != attemptID {
            guard let a = try? await ledger.attempt(id), a.outcome == .paused else { continue }
            let step = a.hosts.filter { $0.switchedAt != nil }.compactMap(\.rolloutStep).max() ?? 0
            notify(
                DeployNotice(
                    host: nil, step: "preflight", status: .failed,
                    message:
                        "the deploy lock is held by a PAUSED rollout of \(a.releaseID) (attempt \(id), paused after step \(step) by \(a.user)@\(a.machine)): shipit rollout promote to continue it, or shipit rollout abort to roll it back"
                ))
        }
    }
}
