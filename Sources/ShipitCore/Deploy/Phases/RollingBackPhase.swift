/// Something failed after a switch: every switched host (or one whose switch outcome is unknown)
/// goes back to the release it ran before, with the same start and smoke test. Never interrupted.
struct RollingBackPhase: PhaseRunner {
    func run(_ d: Deployment) async -> PhaseOutcome {
        let switched = d.state.switchedHosts
        d.notify(DeployNotice(host: nil, step: "rollback", status: .started, message: "rolling back \(switched.count) switched host(s)"))
        let event = d.machine.operation == .deploy ? "auto-rollback" : "rollback"
        let previous = Dictionary(uniqueKeysWithValues: switched.map { ($0, d.state[$0]?.previous) })
        var targets = switched
        var failed: [String] = []
        if d.strategy.traffic != nil {
            // The previous release is still warm on the other slot: usually a traffic switch alone.
            // If it died, it starts there again and is smoke-tested before it gets traffic.
            failed = await WarmPhase.warm(d, step: "rollback warm", release: { previous[$0] ?? nil }, slot: { d.idleSlot($0) }, hosts: switched)
            targets = switched.filter { !failed.contains($0) }
        }
        failed += await SwitchPhase.switchHosts(d, step: "rollback", event: event, to: { previous[$0] ?? nil }, slot: { d.idleSlot($0) }, targets: targets)
        let back = switched.filter { !failed.contains($0) }
        let unhealthy = await SmokeTestPhase.probe(d, step: "smoke test (rollback)", hosts: back)
        return failed.isEmpty && unhealthy.isEmpty ? .done : .failed
    }
}
