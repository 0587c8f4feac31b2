/// Puts the release on every host without touching what runs: the strategy's uploads (the
/// artifact, an env file), then its staging script (extract and verify; create the container).
struct StagePhase: PhaseRunner {
    func run(_ d: Deployment) async -> PhaseOutcome {
        guard let release = d.release else { preconditionFailure("staging before pre-flight resolved the release") }
        let strategy = d.strategy
        let transport = d.transport
        let name = strategy.stageStep
        let results = await d.step(name, on: d.config.hosts) { host in
            let plan = strategy.stage(release, host: host)
            for u in plan.uploads {
                do { try await transport.upload(host, localPath: u.localPath, remotePath: u.remotePath) } catch {
                    return StepResult(failure: (u.label.map { "\($0): " } ?? "") + ErrorText.withoutHost(error))
                }
            }
            return await d.remote(host, plan.command)
        }
        await recordChanges(d, results)
        return d.state.record(results, step: name).isEmpty ? .done : .failed
    }

    /// The files changed against the previous release, as the first host that had one reported them.
    func recordChanges(_ d: Deployment, _ results: [String: StepResult]) async {
        guard let recorder = d.recorder else { return }
        for host in d.config.hosts {
            guard let out = results[host]?.output, let count = out.first("changed").flatMap(Int.init) else { continue }
            await recorder.change {
                $0.changedCount = count
                $0.changedFiles = out.all("change")
            }
            return
        }
    }
}
