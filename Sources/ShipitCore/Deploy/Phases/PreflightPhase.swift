import FoundationEssentials
import SSH

/// A deploy's pre-flight, before anything changes anywhere: the pre-flight hook, the shared run
/// lock, the strategy's pre-flight on every host (lock, checks, pull), the release resolved, and
/// the database's migrations checked.
struct PreflightPhase: PhaseRunner {
    func run(_ context: DeployContext, _ run: DeployRun) async -> PhaseResult {
        var p = PhaseRun(context, run)
        let outcome = await preflight(&p)
        return p.finish(outcome)
    }

    func preflight(_ p: inout PhaseRun) async -> PhaseOutcome {
        guard await p.runHook("pre-flight") else { return .failed }
        // A signal during the hook: no host step starts.
        if p.context.interrupt.isRaised { return .stopped }
        guard let input = p.context.input else { preconditionFailure("a deploy needs a release") }
        guard await p.takeSharedRunLock() else { return .failed }
        let found: [String: ScriptOutput]?
        let strategy = p.strategy
        let lock = p.context.lockRequest
        if strategy.preflightCarriesArtifact, case .artifact(let a) = input,
            p.config.connection.upload.streams(bytes: a.size)
        {
            // The artifact rides on the pre-flight's channel, taken once the host's checks and lock
            // passed: one exec per host instead of two.
            // With a release environment, nothing starts before its file is on the host.
            let warms = p.config.resolvedEnv == nil ? p.warmsEarly : { @Sendable _ in false }
            found = await p.lockingPreflight(stdinPath: a.path) { host in
                strategy.preflightCarrying(lock, artifact: a, warm: warms(host), host: host)
                    ?? strategy.preflight(lock, deploying: input, inventory: false, host: host)
            }
            // What some hosts staged before another failed is removed like any release never switched to.
            if found == nil && !p.run.stagedInPreflight.isEmpty {
                p.apply(.release(ResolvedRelease(id: a.releaseID, input: input)))
            }
        } else {
            found = await p.lockingPreflight {
                strategy.preflight(lock, deploying: input, inventory: false, host: $0)
            }
        }
        guard let found else { return .failed }
        p.noteSupervisor(found)
        let release: ResolvedRelease
        do { release = try strategy.resolve(input, preflight: found, hosts: p.config.hosts) } catch {
            p.apply(.allFailed(step: "preflight", error: error.message))
            return .failed
        }
        p.apply(.release(release))
        guard await openFrontDoor(&p) else { return .failed }
        guard await writeEnvironment(&p, release) else { return .failed }
        if let digest = release.imageDigest, let pulled = input.imagePullReference(p.config.image?.name ?? "") {
            p.notify(
                DeployNotice(
                    host: nil, step: "pull", status: .info,
                    message: "\(pulled) is \(digest) on every host: release \(release.id)"))
            await p.recorder?.change {
                $0.releaseID = release.id
                $0.imageDigest = digest
            }
        }
        return await MigrationGate.check(&p, release) ? .done : .failed
    }

    /// With `traffic.hosts`: the app's servers in every host's front door (tested with the other
    /// apps' before they replace its old ones), the certificate pair on stdin, the proxy started
    /// or reloaded. Before the warm-up, which the switch follows.
    func openFrontDoor(_ p: inout PhaseRun) async -> Bool {
        guard let door = p.strategy.slots?.traffic.frontDoor else { return true }
        // tls: acme: a certificate ordered first when there is none on the deployer, or it is due;
        // the CA's challenge is answered by every host's front door. Hosts that do not have the
        // app yet get its names answering the challenge only (503 otherwise) before the order;
        // hosts that serve it keep serving what they have until the new certificate is in.
        guard let order = ACMEOrder(config: p.config) else {
            return await frontDoorStep(&p, door, step: "front door").ok
        }
        if let why = order.due() {
            let hosts = p.config.hosts.filter { p.strategy.roles.runsApp($0) }
            let present = await appPresent(&p, door, hosts)
            let missing = hosts.filter { present[$0] != true }
            if !missing.isEmpty {
                let pending = await frontDoorStep(&p, door, step: "front door", on: missing, pending: true)
                guard pending.ok else { return false }
                if pending.deferred {
                    p.apply(
                        .allFailed(
                            step: "certificate",
                            error:
                                "the app runs in place on the front door's port, so nothing can answer the CA yet: deploy once with certificate files (or without tls), then switch to tls: acme"
                        ))
                    return false
                }
            }
            p.notify(
                DeployNotice(
                    host: nil, step: "certificate", status: .info,
                    message:
                        "ordering a certificate for \(door.settings.names.joined(separator: ", ")) from \(order.acme.directory): \(why)"
                ))
            do throws(ShipitError) { try await order.renew() } catch {
                // A certificate that still covers the names and has not expired serves on: a CA
                // outage must not stop deploys for weeks.
                let stillValid: Bool
                do throws(ShipitError) {
                    try order.checkOrdered()
                    stillValid = true
                } catch _ { stillValid = false }
                guard stillValid else {
                    p.apply(.allFailed(step: "certificate", error: error.message))
                    return false
                }
                p.notify(
                    DeployNotice(
                        host: nil, step: "certificate", status: .info,
                        message: "warning: \(error.message); the current certificate serves on until it is renewed"))
            }
        }
        return await frontDoorStep(&p, door, step: "front door").ok
    }

    /// Whether each host's front door has the app already (its file there, for this deploy_to).
    func appPresent(_ p: inout PhaseRun, _ door: FrontDoor, _ hosts: [String]) async -> [String: Bool] {
        let transport = p.context.transport
        return await Fleet.bounded(hosts, limit: p.config.connection.parallel) { host in
            guard case .success(let out) = await transport.runScript(host, door.presenceScript(host: host).command)
            else { return false }
            return out.first(.front) == "present"
        }
    }

    /// The front door step on every host that runs the app, with the certificate pair the
    /// deployer has now (none yet with `tls: acme`: the names answer the CA's challenge only).
    /// `pending`: without a certificate (the names answer the CA's challenge only). `deferred`: a
    /// host whose front door starts in the switch (the app runs in place on its port).
    func frontDoorStep(
        _ p: inout PhaseRun, _ door: FrontDoor, step: String, on only: [String]? = nil, pending: Bool = false
    ) async -> (ok: Bool, deferred: Bool) {
        let cert: FrontDoor.CertificatePair?
        do throws(ShipitError) { cert = pending ? nil : try door.certificatePair(app: p.config.app) } catch {
            p.apply(.allFailed(step: step, error: error.message))
            return (false, false)
        }
        let now = p
        let roles = p.strategy.roles
        let app = p.config.app
        let supervision = Supervision(settings: p.config.supervisor, app: app, layout: p.config.layout)
        let results = await p.step(step, on: only ?? p.config.hosts.filter { roles.runsApp($0) }) { host in
            let script = door.script(host: host, app: app, cert: cert, supervision: supervision)
            var r = await now.remote(host, script.command, stdin: cert?.stdin ?? Data())
            if r.ok {
                let out = r.output
                r.note =
                    "front door \(out.first(.front) ?? "?")"
                    + (out.first(.frontChanged) != nil ? ", this app's servers written" : "")
                    + (out.first(.proxyMoved) != nil ? ", the app's own proxy retired" : "")
                    + (out.first(.frontHandover) == "0"
                        ? " (its port was shared for the move; with net.ipv4.tcp_migrate_req=0 a connection arriving as the own proxy closed its socket may have been reset)"
                        : "")
                    + (cert == nil && door.settings.tls != nil ? ", waiting for its certificate" : "")
            }
            return r
        }
        let deferred = results.values.contains { $0.output.first(.front) == "deferred" }
        return (p.record(results, step: step).isEmpty, deferred)
    }

    /// The release's environment file on every host, before its migrations, warm-up or start.
    func writeEnvironment(_ p: inout PhaseRun, _ release: ResolvedRelease) async -> Bool {
        let file: ReleaseEnvFile?
        do throws(ShipitError) {
            file = try ReleaseEnvFile.make(p.strategy, releaseID: release.id, environment: p.config.resolvedEnv)
        } catch {
            p.apply(.allFailed(step: "config", error: error.message))
            return false
        }
        guard let file else { return true }
        let now = p
        let results = await p.step("config", on: p.config.hosts) { host in
            var r = await now.remote(host, file.command, stdin: file.contents)
            if r.ok {
                r.note = "the release's environment written (\(now.config.resolvedEnv?.entries.count ?? 0) values)"
            }
            return r
        }
        return p.record(results, step: "config").isEmpty
    }
}

extension PhaseRun {
    /// Once per run, what keeps the app running on the hosts: systemd's units, or nothing (with
    /// why, where `supervisor: auto` found no systemd). Silent for `supervisor: none`.
    func noteSupervisor(_ found: [String: ScriptOutput]) {
        var systemd = 0
        var none: [String: [String]] = [:]  // why → hosts
        for host in config.hosts {
            guard let out = found[host], let sv = out.first(.supervisor) else { continue }
            if sv == "systemd" {
                systemd += 1
            } else if let why = out.first(.supervisorWhy) {
                none[why, default: []].append(host)
            }
        }
        guard systemd > 0 || !none.isEmpty else { return }
        let units = "systemd (\(config.supervisor.units.rawValue) units)"
        var parts: [String] = []
        if systemd > 0 { parts.append("\(units) on \(systemd) host(s)") }
        for (why, hosts) in none.sorted(by: { $0.key < $1.key }) {
            let names = hosts.count > 3 ? "\(hosts.count) hosts" : hosts.joined(separator: ", ")
            parts.append("none on \(names) (\(why))")
        }
        let tail =
            none.isEmpty
            ? ": a crash or a reboot brings the serving release back"
            : ": where none, nothing restarts the app after a crash or a reboot"
        notify(
            DeployNotice(host: nil, step: "supervisor", status: .info, message: parts.joined(separator: "; ") + tail))
    }

    /// Whether the script that stages the release on a host (the pre-flight's, when it takes the
    /// artifact; else the staging step's) also starts it on the host's idle slot: with the traffic
    /// switch, when nothing must happen between staging and the warm-up (no migrations to apply
    /// first, no pre-switch hook) and every host warms at once (one rollout step), on hosts that run
    /// the app. A run that then fails on another host before the warm-up stops those slots again
    /// and starts the standby there.
    var warmsEarly: @Sendable (String) -> Bool {
        let applies =
            machine.warmStandby && config.migrations == nil && !context.hooks.exists("pre-switch")
            && machine.rollout.steps <= 1
        let roles = strategy.roles
        return { applies && roles.runsApp($0) }
    }
}

/// A manual rollback's pre-flight: the lock and the inventory in one script per host, then the
/// target chosen (present on every host, not marked failed) and checked against the ledger's
/// rollback-unsafe releases.
struct RollbackPreflightPhase: PhaseRunner {
    func run(_ context: DeployContext, _ run: DeployRun) async -> PhaseResult {
        var p = PhaseRun(context, run)
        let outcome = await preflight(&p)
        return p.finish(outcome)
    }

    func preflight(_ p: inout PhaseRun) async -> PhaseOutcome {
        if let requested = p.run.rollbackTo, !RollbackTarget.isDigest(requested) {
            do { try Names.identifier(requested, field: "--to") } catch {
                p.notify(DeployNotice(host: nil, step: "rollback", status: .failed, message: "\(error)"))
                return .failed
            }
        }
        let strategy = p.strategy
        let lock = p.context.lockRequest
        guard await p.takeSharedRunLock(),
            let inventory = await p.lockingPreflight({
                strategy.preflight(lock, deploying: nil, inventory: true, host: $0)
            })
        else { return .failed }
        p.noteSupervisor(inventory)
        let hosts = p.config.hosts
        let state = p.state
        let (target, problem) = strategy.rollbackTarget(
            requested: p.run.rollbackTo, hosts: hosts, inventory: inventory,
            currents: hosts.compactMap { state[$0]?.current })
        guard let target else {
            p.notify(DeployNotice(host: nil, step: "rollback", status: .failed, message: problem ?? "no target"))
            p.apply(.allFailed(step: "choose target", error: problem ?? "no target"))
            return .failed
        }
        p.apply(.rollbackTarget(target))
        p.notify(DeployNotice(host: nil, step: "rollback", status: .info, message: "target release \(target)"))
        let already = hosts.filter { state[$0]?.current == target }
        if !already.isEmpty {
            let which = already.count == hosts.count ? "every host" : already.joined(separator: ", ")
            p.notify(
                DeployNotice(
                    host: nil, step: "rollback", status: .info,
                    message: "\(target) already serves on \(which): left as it is (checked, not restarted)"))
        }
        await p.recorder?.change { $0.releaseID = target }
        if let blocked = await MigrationGate.rollbackBlocker(p.context, target: target), !p.context.options.force {
            p.notify(DeployNotice(host: nil, step: "rollback", status: .failed, message: blocked))
            p.apply(.allFailed(step: "choose target", error: blocked))
            return .failed
        }
        return .done
    }
}
