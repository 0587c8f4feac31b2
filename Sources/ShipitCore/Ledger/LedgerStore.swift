import FoundationEssentials

/// Opens the ledger a config names, and reports attempts left behind by dead processes.
public enum LedgerStore {
    /// For a run that records: creates the ledger when it does not exist yet. An unreachable shared
    /// ledger is an error: falling back to a local file would split the history.
    public static func openForWriting(_ config: DeployConfig) async throws -> Ledger {
        switch config.ledger {
        case .sqlite(let path): return try SQLiteLedger(path: path, create: true)
        case .postgres(let target):
            return try await PostgresLedger.connect(target, timeout: config.connection.connectTimeout)
        }
    }

    /// For readers: the ledger if there is one, and a status for the output (`ok`, `missing`,
    /// `unreachable: …`, `unreadable: …`). Not an error: the hosts' history still answers.
    public static func openForReading(_ config: DeployConfig) async -> (ledger: Ledger?, status: String) {
        switch config.ledger {
        case .sqlite(let path):
            guard FileManager.default.fileExists(atPath: path) else { return (nil, "missing") }
            do { return (try SQLiteLedger(path: path, create: false), "ok") } catch {
                return (nil, "unreadable: \(error)")
            }
        case .postgres(let target):
            do {
                return (try await PostgresLedger.connect(target, timeout: config.connection.connectTimeout), "ok")
            } catch {
                return (nil, "unreachable: \((error as? ShipitError)?.message ?? "\(error)")")
            }
        }
    }

    /// For a run: the ledger (a run that cannot be recorded does not start), with a warning for
    /// each attempt a dead process left behind.
    public static func openForWriting(_ config: DeployConfig, warn: (String) -> Void) async throws -> Ledger {
        let ledger: Ledger
        do { ledger = try await openForWriting(config) } catch {
            throw ShipitError(
                "cannot open the ledger \(config.ledgerPath) (every run is recorded, so nothing was started): \(error)")
        }
        for note in modeNotes(config, ledger) { warn("ledger: " + note) }
        for a in await recover(ledger) { warn(describeInterrupted(a)) }
        return ledger
    }

    /// For readers, with the same warnings.
    public static func openForReading(_ config: DeployConfig, warn: (String) -> Void) async -> (
        ledger: Ledger?, status: String
    ) {
        let (ledger, status) = await openForReading(config)
        for note in modeNotes(config, ledger) { warn("ledger: " + note) }
        if let ledger { for a in await recover(ledger) { warn(describeInterrupted(a)) } }
        return (ledger, status)
    }

    /// What `LedgerFileModes` found: the SQLite file's modes, or the shared ledger's password file.
    static func modeNotes(_ config: DeployConfig, _ ledger: Ledger?) -> [String] {
        if case .postgres(let target) = config.ledger {
            return target.passwordFile.flatMap(LedgerFileModes.passwordFileNote).map { [$0] } ?? []
        }
        return (ledger as? SQLiteLedger)?.modeNotes ?? []
    }

    /// Marks this machine's `running` attempts whose process is gone as `interrupted` and returns
    /// them, so every command can say so.
    public static func recover(_ ledger: Ledger, invoker: Invoker = .current()) async -> [LedgerAttempt] {
        (try? await ledger.recoverInterrupted(machine: invoker.machine, isAlive: { Invoker.isAlive($0) })) ?? []
    }

    /// Attempts of this app that are no longer running: any host lock they still hold is stale.
    /// Only the newest `recentLimit` are read (their ids go into every pre-flight script): a lock
    /// left on a host refuses every later run there, so the run that left it is a recent one.
    public static func deadHolders(_ ledger: Ledger, config: DeployConfig, now: Date = Date()) async -> [String] {
        let query = LedgerQuery(
            from: now.addingTimeInterval(-30 * 86400), app: config.app, stage: .some(config.stage), limit: recentLimit)
        let recent = (try? await ledger.attempts(query)) ?? []
        // Interrupted (its process is gone) or finished: a finished run that still holds a host's
        // lock could not reach that host to release it.
        return recent.filter { $0.outcome != .running && $0.outcome != .paused }.map(\.id)
    }

    static let recentLimit = 100

    /// One paragraph about an interrupted attempt: what it was doing and where each host stood.
    public static func describeInterrupted(_ a: LedgerAttempt) -> String {
        let hosts = a.hosts.map { h in
            "\(h.host): \(h.step.map { "\($0) \(h.status ?? "")" } ?? "not started")"
                + (h.current.map { ", current \($0)" } ?? "")
        }.joined(separator: "; ")
        return
            "attempt \(a.id) (\(a.operation) \(a.releaseID) by \(a.user)@\(a.machine), started \(UTCTime.short(a.startedAt))) was interrupted in state \(a.state). Last known: \(hosts). Check with `shipit status`; `shipit rollback` brings hosts back together."
    }
}
