/// `shipit rollout promote|abort`: the paused rollout's pre-flight, on every host, taking over
/// the lock its own attempt left. It reads where each host is now, restores from the ledger where
/// each was before the rollout and which ones the earlier steps switched, and refuses to go on
/// if a switched host is no longer on the release (someone changed it since the pause).
struct ResumePreflightPhase: PhaseRunner {
    func run(_ context: DeployContext, _ run: DeployRun) async -> PhaseResult {
        var p = PhaseRun(context, run)
        let outcome = await preflight(&p)
        return p.finish(outcome)
    }

    func preflight(_ p: inout PhaseRun) async -> PhaseOutcome {
        guard let (attempt, _) = p.context.resumed else { return .failed }
        var lock = p.context.lockRequest
        lock.staleHolders.append(p.context.attemptID)
        lock.resuming = true
        let strategy = p.strategy
        let request = lock
        guard
            let found = await p.lockingPreflight({
                strategy.preflight(request, deploying: nil, inventory: false, host: $0)
            })
        else { return .failed }
        var failed: [String] = []
        for h in attempt.hosts {
            p.apply(.restored(h.host, previous: h.previous, switchedAt: h.switchedAt))
            let now = found[h.host]?.first(.current) ?? ""
            if h.switchedAt != nil, now != attempt.releaseID {
                p.apply(
                    .hostFailed(
                        h.host, step: "preflight",
                        error:
                            "switched to \(attempt.releaseID) in step \(h.rolloutStep ?? 0), now on \(now.isEmpty ? "nothing" : now): changed since the pause"
                    ))
                failed.append(h.host)
            }
        }
        await p.recordHosts()
        return failed.isEmpty ? .done : .failed
    }
}
