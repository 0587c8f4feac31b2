import FoundationEssentials

/// The release ledger: every attempt, its hosts and its steps. SQLite (`SQLiteLedger`) is the
/// default; a shared store implements the same protocol. All times are UTC.
public protocol Ledger: Sendable {
    /// Where the ledger lives, for messages (a path or a redacted URL).
    var location: String { get }
    /// Inserts a new attempt (and its hosts) before anything changes on a host.
    func begin(_ attempt: LedgerAttempt) async throws
    /// Rewrites the attempt's own fields (state, outcome, error, changes…), not its hosts.
    func update(_ attempt: LedgerAttempt) async throws
    /// Inserts or replaces one host's state within an attempt.
    func setHost(_ attemptID: String, _ state: LedgerHostState) async throws
    /// Stores an effective config once per hash (attempts refer to it by `configHash`).
    func saveConfig(hash: String, settings: [String: String]) async throws
    func config(hash: String) async throws -> [String: String]?
    /// Several configs in one read (the `changes` path).
    func configs(hashes: [String]) async throws -> [String: [String: String]]
    /// Records a step as started; returns its id for `finishStep`.
    func startStep(_ step: LedgerStep) async throws -> Int64
    func finishStep(
        _ id: Int64, status: String, finishedAt: Date, exitStatus: Int32?, stderrTail: String?, message: String?)
        async throws
    /// At the end of a run: how many hosts it left on its release (what `stats` needs to tell a
    /// failed run that changed production from one that stopped before any switch).
    func setSwitchedHosts(_ attemptID: String, _ count: Int) async throws
    /// Every deploy and rollback in the window, oldest first, reduced for `shipit stats`.
    func samples(_ query: LedgerQuery) async throws -> [DeploySample]
    /// Attempts in the window, oldest first, with their hosts.
    func attempts(_ query: LedgerQuery) async throws -> [LedgerAttempt]
    /// How many attempts match (the limit is ignored).
    func count(_ query: LedgerQuery) async throws -> Int
    func attempt(_ id: String) async throws -> LedgerAttempt?
    func steps(attemptID: String) async throws -> [LedgerStep]
    /// Marks `running` attempts started on `machine` whose process is gone as `interrupted`, and
    /// returns them. `isAlive` answers for a pid on this machine.
    func recoverInterrupted(machine: String, isAlive: @Sendable (Int32) -> Bool) async throws -> [LedgerAttempt]
    /// The ledger's own random key (made on first use) that secrets' fingerprints are keyed with.
    func fingerprintKey() async throws -> Data
}
