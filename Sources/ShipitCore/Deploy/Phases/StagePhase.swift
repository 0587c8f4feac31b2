import FoundationEssentials
import SSH

/// Puts the release on every host without touching what runs: the strategy's uploads (the
/// artifact, an env file), then its staging script (extract and verify; create the container).
struct StagePhase: PhaseRunner {
    func run(_ context: DeployContext, _ run: DeployRun) async -> PhaseResult {
        var p = PhaseRun(context, run)
        let outcome = await stage(&p)
        return p.finish(outcome)
    }

    func stage(_ d: inout PhaseRun) async -> PhaseOutcome {
        guard let release = d.run.release else {
            preconditionFailure("staging before pre-flight resolved the release")
        }
        let strategy = d.strategy
        let name = strategy.stageStep
        // Hosts whose pre-flight already took and extracted the artifact: the step is recorded
        // (the ledger and the progress say where each host is) with what that script reported.
        let staged = d.run.stagedInPreflight
        var results = await d.step(name, on: d.config.hosts.filter { staged[$0] != nil }) { host in
            var r = StepResult(ok: true, output: staged[host]!)
            r.note = "streamed and extracted with the pre-flight"
            return r
        }
        let remaining = d.config.hosts.filter { staged[$0] == nil }
        // Behind the traffic switch, with nothing to run between staging and the start, the
        // release starts on the idle slot at the end of this script (see PhaseRun.warmsEarly).
        let warmSlots = Dictionary(uniqueKeysWithValues: remaining.filter(d.warmsEarly).map { ($0, d.idleSlot($0)) })
        // Hosts that keep earlier releases get only what they lack (symlink releases).
        var found: [String: DeltaStaging.HostDelta] = [:]
        if strategy is SymlinkStrategy, case .artifact(let a) = release.input {
            found = await DeltaStaging.prepare(d, artifact: a, hosts: remaining)
        }
        let deltas = found
        let now = d
        results.merge(
            await d.step(name, on: remaining) { host in
                var full: StagePlan
                do throws(ShipitError) { full = try strategy.stage(release, host: host) } catch {
                    return StepResult(failure: error.message)
                }
                guard let delta = deltas[host], let symlink = strategy as? SymlinkStrategy else {
                    return await Self.send(now, host: host, plan: full, release: release, warm: warmSlots[host])
                }
                let plan = StagePlan(
                    uploads: [
                        .init(localPath: delta.tarball, remotePath: symlink.layout.upload(release.id), label: nil)
                    ],
                    command: symlink.extractDelta(releaseID: release.id, sha256: delta.sha256))
                var r = await Self.send(now, host: host, plan: plan, release: release, warm: warmSlots[host])
                if r.ok {
                    r.note = delta.note
                } else if r.exitStatus == ScriptExit.deltaMismatch.rawValue {
                    let why = r.error ?? "delta refused"
                    r = await Self.send(now, host: host, plan: full, release: release, warm: warmSlots[host])
                    if r.ok { r.note = "\(why); the whole artifact sent instead" }
                }
                return r
            }
        ) { $1 }
        for (host, r) in results.sorted(by: { $0.key < $1.key })
        where warmSlots[host] != nil && r.output.first(.warmExit) != nil {
            d.apply(.warmedEarly(host, .init(output: r.output, carrier: "staging")))
        }
        await recordChanges(d, results)
        return d.record(results, step: name).isEmpty ? .done : .failed
    }

    /// One host's files (SFTP, or on the staging script's stdin) and its staging script, which
    /// goes on to start the release on `warm`'s slot when it is given.
    static func send(_ now: PhaseRun, host: String, plan: StagePlan, release: ResolvedRelease, warm: Int?) async
        -> StepResult
    {
        let strategy = now.strategy
        let transport = now.context.transport
        let name = strategy.stageStep
        let mode = now.config.connection.upload
        var plan = plan
        if let slot = warm, let slots = strategy.slots {
            plan.command = plan.command.thenContained(
                slots.warm(releaseID: release.id, host: host, slot: slot, reuse: true), as: "warm")
        }
        var stream = mode.streams(bytes: plan.uploads.reduce(0) { $0 + Self.size($1.localPath) })
        if !stream, !plan.uploads.isEmpty, await !transport.sftpAvailable(host) {
            stream = true
            if mode != .auto {
                now.notify(
                    DeployNotice(
                        host: host, step: name, status: .info,
                        message:
                            "this host's sshd offers no SFTP: the files are streamed on the command's stdin instead"
                    ))
            }
        }
        guard stream else {
            // Each file to a fresh name, put in its place (0600, renamed) by the script.
            var placed: [(uploaded: String, path: String)] = []
            for u in plan.uploads {
                let part = RemoteCommand.uploadPath(for: u.remotePath)
                do { try await transport.upload(host, localPath: u.localPath, remotePath: part) } catch {
                    return StepResult(failure: (u.label.map { "\($0): " } ?? "") + ErrorText.withoutHost(error))
                }
                placed.append((part, u.remotePath))
            }
            return await now.remote(host, plan.command.placing(placed))
        }
        // Each file on the stdin of the script that needs it: the last one (the artifact) and
        // the staging script share one channel.
        guard let last = plan.uploads.last else { return await now.remote(host, plan.command) }
        for u in plan.uploads.dropLast() {
            let r = await now.remote(
                host, plan.command.receivingOnly(stdinAt: u.remotePath), stdinPath: u.localPath)
            if !r.ok { return StepResult(failure: (u.label.map { "\($0): " } ?? "") + (r.error ?? "failed")) }
        }
        return await now.remote(
            host, plan.command.receiving(stdinAt: last.remotePath), stdinPath: last.localPath)
    }

    static func size(_ path: String) -> Int64 {
        FilePath.size(of: path) ?? 0
    }

    /// The files changed against the previous release, as the first host that had one reported them.
    func recordChanges(_ d: PhaseRun, _ results: [String: StepResult]) async {
        guard let recorder = d.recorder else { return }
        for host in d.config.hosts {
            guard let out = results[host]?.output, let count = out.first(.changed).flatMap(Int.init) else { continue }
            await recorder.change {
                $0.changedCount = count
                $0.changedFiles = out.all(.change)
            }
            return
        }
    }
}
