import Foundation

extension Deployment {
    /// `shipit deploy --tag T` for `strategy: image`: the same state machine, lock, hooks, smoke test
    /// and ledger as a symlink deploy. Pre-flight pulls `name:T` on every host and requires one
    /// digest everywhere; "upload" creates the release's container; the switch stops the old
    /// container and starts the new one; a failure starts the old one again everywhere.
    public func deployImage(tag: String) async -> DeployReport {
        let report = await runImageDeploy(tag: tag)
        await transport.close()  // before returning: see `deploy`
        return report
    }

    func runImageDeploy(tag: String) async -> DeployReport {
        let started = ContinuousClock.now
        guard let image = config.image, let cmds = commands as? ImageCommands else {
            return await refuse("deploy", release: tag, started: started)
        }
        let pull = "\(image.name):\(tag)"
        guard await beginRecording(operation: "deploy", releaseID: tag, source: pull, commit: nil, ref: nil) else {
            return await refuse("deploy", release: tag, started: started)
        }
        await advance(.start)
        guard await runHook("pre-flight", release: tag) else {
            await advance(.phaseFailed(anySwitched: false))
            return await report(operation: "deploy", release: tag, started: started)
        }
        guard await preflight(requiredKB: 0, pull: pull) else {
            await advance(.phaseFailed(anySwitched: false))
            return await report(operation: "deploy", release: tag, started: started)
        }
        // Tags move: every host must have pulled the same content, and that digest is what is recorded.
        let digests = Set(config.hosts.compactMap { preflightResults[$0]?.first("digest") })
        guard digests.count == 1, let digest = digests.first else {
            let seen = config.hosts.map { "\($0): \(preflightResults[$0]?.first("digest") ?? "?")" }.joined(separator: ", ")
            for h in config.hosts { hosts[h]?.failedStep = "preflight"; hosts[h]?.error = "\(pull) resolved to different digests (the tag moved during the pull): \(seen)" }
            await advance(.phaseFailed(anySwitched: false))
            await releaseLocks()
            return await report(operation: "deploy", release: tag, started: started)
        }
        let id = ImageCommands.releaseID(tag: tag, digest: digest)
        let reference = "\(image.name)@\(digest)"
        notify(DeployNotice(host: nil, step: "pull", status: .info, message: "\(pull) is \(digest) on every host: release \(id)"))
        await recorder?.change { $0.releaseID = id; $0.imageDigest = digest }
        if config.migrations != nil {
            guard let set = await fetchImageMigrations(reference: reference, releaseID: id), await checkMigrations(set) else {
                await releaseLocks()
                await advance(.phaseFailed(anySwitched: false))
                return await report(operation: "deploy", release: id, started: started)
            }
        }
        if await stopRequested() { return await finishFailed(id, started: started) }
        await advance(.phaseSucceeded)

        // "upload": the env file (0600) and the release's container, created but not started.
        let envFile = image.envFile
        let remoteEnv = remoteEnvFile
        let creates = await phase("create", on: config.hosts) { [self] host in
            if let envFile {
                do { try await transport.upload(host, localPath: envFile, remotePath: remoteEnv) } catch {
                    return StepResult(failure: "env file upload: \(ErrorText.withoutHost(error))")
                }
            }
            let bind = config.health?.address ?? host
            return await remote(host, cmds.create(releaseID: id, reference: reference, bind: bind, envFile: envFile == nil ? nil : remoteEnv))
        }
        return await afterStaging(creates, step: "create", id: id, started: started)
    }
}
