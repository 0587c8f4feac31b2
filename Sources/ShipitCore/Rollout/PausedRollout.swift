import FoundationEssentials

/// Finds the rollout `shipit rollout promote|abort` picks up: this app and stage's newest attempt,
/// if it is a paused rollout — or one whose process died mid-rollout (`interrupted`, with hosts
/// it switched and locks it may still hold), which `abort` can still roll back.
public enum PausedRollout {
    public static func find(_ ledger: Ledger, config: DeployConfig, allowInterrupted: Bool) async throws
        -> LedgerAttempt?
    {
        // Newest first; runs that changed no host since (a deploy refused by the paused run's
        // lock, say) do not hide it.
        let recent = try await ledger.attempts(LedgerQuery(app: config.app, stage: .some(config.stage), limit: 50))
            .reversed()
        for a in recent {
            let rollout = a.operation == "deploy" && a.hosts.contains { $0.rolloutStep != nil }
            switch a.outcome {
            case .paused where rollout: return a
            case .interrupted where rollout && allowInterrupted: return a
            default:
                let changedHosts = a.hosts.contains {
                    $0.switchedAt != nil || ($0.current != nil && $0.current != $0.previous)
                }
                if changedHosts || a.outcome == .running { return nil }
            }
        }
        return nil
    }

    /// What the operator reads when nothing can be picked up.
    public static func nothing(_ config: DeployConfig) -> ShipitError {
        ShipitError(
            "no paused rollout of \(config.app)\(config.stage.map { " (\($0))" } ?? "") in the ledger \(config.ledgerPath): no paused rollout since the last change to the hosts (shipit changes shows them)"
        )
    }
}
