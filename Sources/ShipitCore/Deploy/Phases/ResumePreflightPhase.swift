/// `shipit rollout promote|abort`: the paused rollout's pre-flight, on every host, taking over
/// the lock its own attempt left. It reads where each host is now, restores from the ledger where
/// each was before the rollout and which ones the earlier steps switched, and refuses to go on
/// if a switched host is no longer on the release (someone changed it since the pause).
struct ResumePreflightPhase: PhaseRunner {
    func run(_ d: Deployment) async -> PhaseOutcome {
        guard let (attempt, _) = d.resumed else { return .failed }
        var lock = d.lockRequest
        lock.staleHolders.append(d.attemptID)
        let strategy = d.strategy
        let request = lock
        guard
            let found = await d.lockingPreflight({
                strategy.preflight(request, deploying: nil, inventory: false, host: $0)
            })
        else { return .failed }
        var failed: [String] = []
        for h in attempt.hosts {
            d.state.restore(host: h.host, previous: h.previous, switchedAt: h.switchedAt)
            let now = found[h.host]?.first("current") ?? ""
            if h.switchedAt != nil, now != attempt.releaseID {
                d.state.fail(
                    host: h.host, step: "preflight",
                    error:
                        "switched to \(attempt.releaseID) in step \(h.rolloutStep ?? 0), now on \(now.isEmpty ? "nothing" : now): changed since the pause"
                )
                failed.append(h.host)
            }
        }
        await d.recordHosts()
        return failed.isEmpty ? .done : .failed
    }
}
