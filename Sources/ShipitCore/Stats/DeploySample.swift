import Foundation

/// One recorded run, reduced to what the DORA figures need (read in bulk by `shipit stats`).
public struct DeploySample: Sendable, Equatable {
    public var operation: String
    public var outcome: LedgerAttempt.Outcome
    public var startedAt: Date
    public var finishedAt: Date?
    public var commit: String?
    /// Some host ran the release at the end (a failed deploy left switched: `--no-rollback`).
    public var leftSwitched: Bool

    public init(operation: String, outcome: LedgerAttempt.Outcome, startedAt: Date, finishedAt: Date?, commit: String?, leftSwitched: Bool) {
        self.operation = operation; self.outcome = outcome; self.startedAt = startedAt; self.finishedAt = finishedAt
        self.commit = commit; self.leftSwitched = leftSwitched
    }

    /// The columns both ledgers select, after `FROM attempts a`.
    static let columns = "a.operation, a.outcome, a.started_at, a.finished_at, a.commit_sha, "
        + "EXISTS (SELECT 1 FROM {h} h WHERE h.attempt_id = a.id AND h.current = a.release_id AND h.previous IS DISTINCT FROM h.current)"
}
