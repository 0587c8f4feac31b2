import FoundationEssentials

/// One recorded run, reduced to what the DORA figures need (read in bulk by `shipit stats`).
public struct DeploySample: Sendable, Equatable {
    /// A deploy (else a rollback); a flag, not a string, for 100k rows.
    public var isDeploy: Bool
    public var operation: String { isDeploy ? "deploy" : "rollback" }
    public var outcome: LedgerAttempt.Outcome
    public var startedAt: Date
    public var finishedAt: Date?
    public var commit: String?
    /// Some host ran the release at the end (a failed deploy left switched: `--no-rollback`).
    public var leftSwitched: Bool

    public init(
        operation: String, outcome: LedgerAttempt.Outcome, startedAt: Date, finishedAt: Date?, commit: String?,
        leftSwitched: Bool
    ) {
        self.init(
            isDeploy: operation == "deploy", outcome: outcome, startedAt: startedAt, finishedAt: finishedAt,
            commit: commit, leftSwitched: leftSwitched)
    }

    public init(
        isDeploy: Bool, outcome: LedgerAttempt.Outcome, startedAt: Date, finishedAt: Date?, commit: String?,
        leftSwitched: Bool
    ) {
        self.isDeploy = isDeploy
        self.outcome = outcome
        self.startedAt = startedAt
        self.finishedAt = finishedAt
        self.commit = commit
        self.leftSwitched = leftSwitched
    }

    /// The columns both ledgers select, after `FROM attempts a`: the outcome as its index in
    /// `Outcome.allCases` and the operation as a flag (no string per row for 100k attempts), the
    /// commit only where a lead time can come from it.
    static var columns: String {
        let outcome = LedgerAttempt.Outcome.allCases.enumerated().map {
            "WHEN '\($0.element.rawValue)' THEN \($0.offset)"
        }.joined(separator: " ")
        return
            "CASE a.outcome \(outcome) ELSE -1 END, CASE WHEN a.operation = 'deploy' THEN 1 ELSE 0 END, a.started_at, a.finished_at, "
            + "CASE WHEN a.outcome = 'succeeded' THEN a.commit_sha END, "
            // Only a failed run's hosts matter (the others' outcome says it all): its recorded
            // switched-host count, or for runs recorded before that column, its host rows.
            + "CASE WHEN a.outcome IN ('failed', 'interrupted') THEN coalesce(a.switched_hosts > 0, EXISTS (SELECT 1 FROM {h} h WHERE h.attempt_id = a.id AND h.current = a.release_id AND h.previous IS DISTINCT FROM h.current)) ELSE false END"
    }

    static let outcomes = LedgerAttempt.Outcome.allCases

    static func outcome(index: Int) -> LedgerAttempt.Outcome {
        outcomes.indices.contains(index) ? outcomes[index] : .running
    }
}
