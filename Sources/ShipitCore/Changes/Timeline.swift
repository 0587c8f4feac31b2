import FoundationEssentials

/// The answer to "what changed?": one UTC timeline of attempts (deploys, rollbacks, failed and
/// interrupted runs, config changes), from the ledger merged with the hosts' own history.
/// Encoded as-is by `changes --json`; the schema is documented in docs/ledger.md.
public struct Timeline: Codable, Sendable {
    /// A host of an entry: the ledger's own per-host record (same fields, same JSON).
    public typealias Host = LedgerHostState

    public struct Entry: Codable, Sendable {
        public var time: Date
        public var finished: Date?
        public var attempt: String
        /// `deploy` or `rollback`.
        public var operation: String
        public var app: String
        public var stage: String?
        public var release: String
        /// `succeeded`, `failed`, `rolled-back`, `rollback-failed`, `interrupted`, `running`, or
        /// `unknown` (host history without an outcome line).
        public var outcome: String
        public var state: String?
        public var by: String
        public var ci: [String: String]
        public var source: String?
        public var commit: String?
        public var ref: String?
        public var error: String?
        public var changedCount: Int?
        public var changedFiles: [String]
        public var configHash: String?
        /// Settings that differ from the attempt before (`key: old → new`); empty when unchanged.
        public var configChanges: [String]
        /// A deploy of the same code as the deploy before it, with another config (env, secrets).
        public var configOnly = false
        public var imageDigest: String?
        public var migrations: [String]
        public var hosts: [Host]
        /// `ledger`, `hosts` (only in host history), or `ledger+hosts`.
        public var origin: String
        /// A progressive rollout: its step events and every failed gate sample, with how many
        /// gate samples passed (from the ledger's steps).
        public var rollout: [String] = []
        /// Request steps: what the proxy measured of each release (the last sample of each step's
        /// proxy gate).
        public var requests: [RequestComparison] = []
    }

    /// Version of this JSON shape (docs/ledger.md); bumped only on incompatible change.
    public var schema = 1
    public var from: Date?
    public var to: Date?
    public var app: String
    public var ledger: String?
    /// `ok`, `missing`, or `unreadable: …`.
    public var ledgerStatus: String
    /// Per host: `ok`, `unreachable: …`, or `not asked`.
    public var hostStatus: [String: String]
    public var notes: [String]
    /// Changes in the window; `entries` holds the newest `--limit` of them.
    public var total: Int
    public var entries: [Entry]
}
