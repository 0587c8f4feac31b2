import FoundationEssentials

/// A deploy's pre-flight, before anything changes anywhere: the pre-flight hook, the shared run
/// lock, the strategy's pre-flight on every host (lock, checks, pull), the release resolved, and
/// the database's migrations checked.
struct PreflightPhase: PhaseRunner {
    func run(_ d: Deployment) async -> PhaseOutcome {
        guard await d.runHook("pre-flight") else { return .failed }
        // A signal during the hook: no host step starts.
        if d.interrupt.isRaised { return .stopped }
        guard let input = d.input else { preconditionFailure("a deploy needs a release") }
        guard await d.takeSharedRunLock() else { return .failed }
        let found: [String: ScriptOutput]?
        if d.strategy.preflightCarriesArtifact, case .artifact(let a) = input,
            d.config.connection.upload.streams(bytes: a.size)
        {
            // The artifact rides on the pre-flight's channel, taken once the host's checks and lock
            // passed: one exec per host instead of two.
            let warms = d.warmsEarly
            found = await d.lockingPreflight(stdinPath: a.path) { [strategy = d.strategy, lock = d.lockRequest] host in
                strategy.preflightCarrying(lock, artifact: a, warm: warms(host), host: host)
                    ?? strategy.preflight(lock, deploying: input, inventory: false, host: host)
            }
            // What some hosts staged before another failed is removed like any release never switched to.
            if found == nil && !d.stagedInPreflight.isEmpty {
                d.release = ResolvedRelease(id: a.releaseID, input: input)
            }
        } else {
            found = await d.lockingPreflight { [strategy = d.strategy, lock = d.lockRequest] in
                strategy.preflight(lock, deploying: input, inventory: false, host: $0)
            }
        }
        guard let found else { return .failed }
        let release: ResolvedRelease
        do { release = try d.strategy.resolve(input, preflight: found, hosts: d.config.hosts) } catch {
            d.state.failAll(step: "preflight", error: error.message)
            return .failed
        }
        d.release = release
        if let digest = release.imageDigest, case .imageTag(let tag) = input {
            d.notify(
                DeployNotice(
                    host: nil, step: "pull", status: .info,
                    message: "\(d.config.image?.name ?? ""):\(tag) is \(digest) on every host: release \(release.id)"))
            await d.recorder?.change {
                $0.releaseID = release.id
                $0.imageDigest = digest
            }
        }
        return await MigrationGate(run: d).check(release) ? .done : .failed
    }
}

extension Deployment {
    /// Whether the script that stages the release on a host (the pre-flight's, when it takes the
    /// artifact; else the staging step's) also starts it on the host's idle slot: with the traffic
    /// switch, when nothing must happen between staging and the warm-up (no migrations to apply
    /// first, no pre-switch hook) and every host warms at once (one rollout step), on hosts that run
    /// the app. A run that then fails on another host before the warm-up stops those slots again
    /// and starts the standby there.
    var warmsEarly: @Sendable (String) -> Bool {
        let applies =
            machine.warmStandby && config.migrations == nil && !hooks.exists("pre-switch") && machine.rollout.steps <= 1
        let roles = strategy.roles
        return { applies && roles.runsApp($0) }
    }
}

/// A manual rollback's pre-flight: the lock and the inventory in one script per host, then the
/// target chosen (present on every host, not marked failed) and checked against the ledger's
/// rollback-unsafe releases.
struct RollbackPreflightPhase: PhaseRunner {
    func run(_ d: Deployment) async -> PhaseOutcome {
        if let requested = d.rollbackTo, !RollbackTarget.isDigest(requested) {
            do { try Names.identifier(requested, field: "--to") } catch {
                d.notify(DeployNotice(host: nil, step: "rollback", status: .failed, message: "\(error)"))
                return .failed
            }
        }
        guard await d.takeSharedRunLock(),
            let inventory = await d.lockingPreflight({ [strategy = d.strategy, lock = d.lockRequest] in
                strategy.preflight(lock, deploying: nil, inventory: true, host: $0)
            })
        else { return .failed }
        let hosts = d.config.hosts
        let (target, problem) = d.strategy.rollbackTarget(
            requested: d.rollbackTo, hosts: hosts, inventory: inventory,
            currents: hosts.compactMap { d.state[$0]?.current })
        guard let target else {
            d.notify(DeployNotice(host: nil, step: "rollback", status: .failed, message: problem ?? "no target"))
            d.state.failAll(step: "choose target", error: problem ?? "no target")
            return .failed
        }
        d.rollbackTo = target
        d.notify(DeployNotice(host: nil, step: "rollback", status: .info, message: "target release \(target)"))
        let already = hosts.filter { d.state[$0]?.current == target }
        if !already.isEmpty {
            let which = already.count == hosts.count ? "every host" : already.joined(separator: ", ")
            d.notify(
                DeployNotice(
                    host: nil, step: "rollback", status: .info,
                    message: "\(target) already serves on \(which): left as it is (checked, not restarted)"))
        }
        await d.recorder?.change { $0.releaseID = target }
        if let blocked = await MigrationGate(run: d).rollbackBlocker(target: target), !d.options.force {
            d.notify(DeployNotice(host: nil, step: "rollback", status: .failed, message: blocked))
            d.state.failAll(step: "choose target", error: blocked)
            return .failed
        }
        return .done
    }
}
