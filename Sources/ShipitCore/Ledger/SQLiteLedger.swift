import FoundationEssentials
import Glibc
import SSH

/// The default ledger: one SQLite file on the deployer (WAL, mode 0600, its own migrations).
public final class SQLiteLedger: Ledger {
    public let path: String
    public var location: String { path }
    /// Public for tests (they read pragmas through it) and the benchmark's filler.
    public let db: SQLiteDatabase
    /// Modes found wider than 0600/0700 on opening, and what was done (see `LedgerFileModes`).
    public let modeNotes: [String]

    /// Opens (creating when `create`) the ledger at `path`. A missing file with `create == false`
    /// is an error the caller reports ("no ledger yet").
    public init(path: String, create: Bool = true) throws {
        self.path = path
        let fm = FileManager.default
        if !fm.fileExists(atPath: path) {
            guard create else { throw ShipitError("no ledger at \(path)") }
            let dir = FilePath.directory(of: path)
            if !dir.isEmpty {
                try fm.createDirectory(
                    atPath: dir, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
            }
            // Created 0600 before SQLite opens it: SQLite gives its -wal and -shm files the same mode.
            let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
            guard fd >= 0 || errno == EEXIST else {
                throw ShipitError("cannot create the ledger \(path): \(POSIXFailure(operation: "open"))")
            }
            if fd >= 0 { close(fd) }
        }
        do {
            db = try SQLiteDatabase(path: path)
            try db.accessNow { db in
                try db.execute("PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON")
                try Self.migrate(db)
            }
        } catch let e as SQLiteDatabase.Failure {
            throw ShipitError("ledger \(path): \(e.message)")
        }
        // After the open: the -wal and -shm files exist now.
        modeNotes = LedgerFileModes.enforce(ledgerPath: path)
    }

    /// Beside the ledger file, not in it (`<ledger>.key`, 0600): a copy of the ledger alone gives no
    /// way to test a guess of a secret against its fingerprint.
    public func fingerprintKey() async throws -> Data {
        try FingerprintKey.file(path + ".key")
    }

    /// The key, if a run made one (nothing is created).
    public func existingFingerprintKey() -> Data? {
        (try? String(contentsOfFile: path + ".key", encoding: .utf8)).flatMap {
            FingerprintKey.bytes(hex: $0.trimmed())
        }
    }

    /// Applies the migrations not yet recorded, each in its own transaction. The table keeps the
    /// name GRDB gave it, so ledgers written by earlier versions of shipit upgrade in place.
    static func migrate(_ db: SQLiteDatabase) throws {
        try db.execute("CREATE TABLE IF NOT EXISTS grdb_migrations (identifier TEXT NOT NULL PRIMARY KEY)")
        for (id, sql) in migrations {
            try db.transaction {
                guard try db.text("SELECT identifier FROM grdb_migrations WHERE identifier = ?", [id]) == nil else {
                    return
                }
                try db.execute(sql)
                try db.run("INSERT INTO grdb_migrations (identifier) VALUES (?)", [id])
            }
        }
    }

    /// Schema versions. Never edit a shipped migration: add one, so old ledgers upgrade in place.
    static let migrations: [(String, String)] = [
        (
            "v1",
            """
            CREATE TABLE attempts (
              id TEXT PRIMARY KEY, app TEXT NOT NULL, stage TEXT, strategy TEXT NOT NULL, operation TEXT NOT NULL,
              release_id TEXT NOT NULL, source TEXT, commit_sha TEXT, ref TEXT,
              user TEXT NOT NULL, machine TEXT NOT NULL, pid INTEGER NOT NULL, ci TEXT NOT NULL DEFAULT '{}',
              started_at REAL NOT NULL, finished_at REAL, outcome TEXT NOT NULL, state TEXT NOT NULL, error TEXT,
              changed_count INTEGER, changed_files TEXT NOT NULL DEFAULT '[]', config_hash TEXT NOT NULL,
              image_digest TEXT, migrations TEXT NOT NULL DEFAULT '[]', rollback_unsafe INTEGER NOT NULL DEFAULT 0);
            CREATE INDEX attempts_started ON attempts(started_at);
            CREATE INDEX attempts_app_started ON attempts(app, started_at);
            CREATE INDEX attempts_running ON attempts(machine) WHERE outcome = 'running';
            CREATE TABLE attempt_hosts (
              attempt_id TEXT NOT NULL REFERENCES attempts(id) ON DELETE CASCADE, host TEXT NOT NULL,
              previous TEXT, current TEXT, step TEXT, status TEXT, error TEXT,
              PRIMARY KEY (attempt_id, host)) WITHOUT ROWID;
            CREATE INDEX attempt_hosts_host ON attempt_hosts(host, attempt_id);
            CREATE TABLE steps (
              id INTEGER PRIMARY KEY, attempt_id TEXT NOT NULL REFERENCES attempts(id) ON DELETE CASCADE,
              host TEXT, step TEXT NOT NULL, status TEXT NOT NULL, started_at REAL NOT NULL, finished_at REAL,
              exit_status INTEGER, stderr_tail TEXT, message TEXT);
            CREATE INDEX steps_attempt ON steps(attempt_id, id);
            -- One row per distinct effective config (redacted), shared by the attempts that used it.
            CREATE TABLE configs (hash TEXT PRIMARY KEY, settings TEXT NOT NULL) WITHOUT ROWID;
            """
        ),
        // The traffic switch: which slot served each host, and its warm standby.
        (
            "v2-traffic",
            "ALTER TABLE attempt_hosts ADD COLUMN slot INTEGER; ALTER TABLE attempt_hosts ADD COLUMN standby TEXT;"
        ),
        // Progressive rollout: each host's step and when it switched.
        (
            "v3-rollout",
            "ALTER TABLE attempt_hosts ADD COLUMN rollout_step INTEGER; ALTER TABLE attempt_hosts ADD COLUMN switched_at REAL;"
        ),
        // `shipit stats`: each run's switched-host count, and an index that covers its one query
        // (100k attempts read without touching the table).
        (
            "v4-stats",
            """
            ALTER TABLE attempts ADD COLUMN switched_hosts INTEGER;
            CREATE INDEX attempts_stats ON attempts(app, started_at, stage, outcome, operation, finished_at, switched_hosts, commit_sha, release_id, id);
            """
        ),
        // The number an event measured (a gate's sample), for `shipit report` to draw over time.
        ("v5-step-values", "ALTER TABLE steps ADD COLUMN value REAL"),
    ]

    /// A write: one transaction on the connection's queue.
    private func write<T: Sendable>(_ body: @escaping @Sendable (SQLiteDatabase) throws -> T) async throws -> T {
        try await db.access { db in try db.transaction { try body(db) } }
    }

    private func read<T: Sendable>(_ body: @escaping @Sendable (SQLiteDatabase) throws -> T) async throws -> T {
        try await db.access(body)
    }

    // MARK: writes

    public func begin(_ attempt: LedgerAttempt) async throws {
        try await write { db in
            try db.run(
                "INSERT INTO attempts (id, app, stage, strategy, operation, release_id, source, commit_sha, ref, user, machine, pid, ci, started_at, finished_at, outcome, state, error, changed_count, changed_files, config_hash, image_digest, migrations, rollback_unsafe) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                Self.arguments(attempt))
            for h in attempt.hosts { try Self.upsertHost(db, attempt.id, h) }
        }
    }

    public func update(_ attempt: LedgerAttempt) async throws {
        try await write { db in
            var args = Self.arguments(attempt)
            let id = args.removeFirst()!  // WHERE id = ? goes last
            args.append(id)
            try db.run(
                "UPDATE attempts SET app=?, stage=?, strategy=?, operation=?, release_id=?, source=?, commit_sha=?, ref=?, user=?, machine=?, pid=?, ci=?, started_at=?, finished_at=?, outcome=?, state=?, error=?, changed_count=?, changed_files=?, config_hash=?, image_digest=?, migrations=?, rollback_unsafe=? WHERE id=?",
                args)
        }
    }

    public func setHost(_ attemptID: String, _ state: LedgerHostState) async throws {
        try await write { db in try Self.upsertHost(db, attemptID, state) }
    }

    public func saveConfig(hash: String, settings: [String: String]) async throws {
        let body = LedgerJSON.encode(settings)
        try await write { db in
            try db.run("INSERT OR IGNORE INTO configs (hash, settings) VALUES (?, ?)", [hash, body])
        }
    }

    public func config(hash: String) async throws -> [String: String]? {
        try await read { db in
            try db.text("SELECT settings FROM configs WHERE hash = ?", [hash]).map { LedgerJSON.dictionary($0) }
        }
    }

    public func configs(hashes: [String]) async throws -> [String: [String: String]] {
        guard !hashes.isEmpty else { return [:] }
        return try await read { db in
            var out: [String: [String: String]] = [:]
            let marks = Array(repeating: "?", count: hashes.count).joined(separator: ",")
            try db.each("SELECT hash, settings FROM configs WHERE hash IN (\(marks))", hashes) { r in
                if let h = r.text(0) { out[h] = LedgerJSON.dictionary(r.text(1)) }
            }
            return out
        }
    }

    public func startStep(_ step: LedgerStep) async throws -> Int64 {
        try await write { db in
            try db.run(
                "INSERT INTO steps (attempt_id, host, step, status, started_at, finished_at, exit_status, stderr_tail, message, value) VALUES (?,?,?,?,?,?,?,?,?,?)",
                [
                    step.attemptID, step.host, step.step, step.status, step.startedAt.timeIntervalSince1970,
                    step.finishedAt?.timeIntervalSince1970, step.exitStatus, step.stderrTail, step.message, step.value,
                ])
            return db.lastInsertedRowID
        }
    }

    public func finishStep(
        _ id: Int64, status: String, finishedAt: Date, exitStatus: Int32?, stderrTail: String?, message: String?
    ) async throws {
        try await write { db in
            try db.run(
                "UPDATE steps SET status=?, finished_at=?, exit_status=?, stderr_tail=?, message=? WHERE id=?",
                [status, finishedAt.timeIntervalSince1970, exitStatus, stderrTail, message, id])
        }
    }

    public func recoverInterrupted(machine: String, isAlive: @Sendable (Int32) -> Bool) async throws -> [LedgerAttempt]
    {
        let running = try await read { db in
            var rows: [(id: String, pid: Int32, state: String)] = []
            try db.each("SELECT id, pid, state FROM attempts WHERE outcome = 'running' AND machine = ?", [machine]) {
                r in
                rows.append((r.text(0) ?? "", Int32(r.int(1) ?? 0), r.text(2) ?? ""))
            }
            return rows
        }
        var recovered: [LedgerAttempt] = []
        for r in running where !isAlive(r.pid) {
            try await write { db in
                let last = try db.double(
                    "SELECT max(coalesce(finished_at, started_at)) FROM steps WHERE attempt_id = ?", [r.id])
                try db.run(
                    "UPDATE attempts SET outcome = 'interrupted', finished_at = coalesce(?, started_at), error = coalesce(error || '; ', '') || ? WHERE id = ? AND outcome = 'running'",
                    [
                        last,
                        "the shipit process (pid \(r.pid) on \(machine)) stopped without finishing, in state \(r.state)",
                        r.id,
                    ])
                try db.run(
                    "UPDATE steps SET status = 'interrupted' WHERE attempt_id = ? AND status = 'running'", [r.id])
            }
            if let a = try await attempt(r.id) { recovered.append(a) }
        }
        return recovered
    }

    // MARK: reads

    public func count(_ q: LedgerQuery) async throws -> Int {
        let (whereSQL, arguments) = Self.filter(q)
        return try await read { db in Int(try db.int("SELECT count(*) FROM attempts a \(whereSQL)", arguments) ?? 0) }
    }

    public func setSwitchedHosts(_ attemptID: String, _ count: Int) async throws {
        try await write { db in try db.run("UPDATE attempts SET switched_hosts = ? WHERE id = ?", [count, attemptID]) }
    }

    public func samples(_ q: LedgerQuery) async throws -> [DeploySample] {
        let (whereSQL, arguments) = Self.filter(q)
        let sql =
            "SELECT \(DeploySample.columns.replacing("{h}", with: "attempt_hosts").replacing("IS DISTINCT FROM", with: "IS NOT")) FROM attempts a \(whereSQL) ORDER BY a.started_at"
        return try await read { db in
            var out: [DeploySample] = []
            out.reserveCapacity(4096)
            try db.each(sql, arguments) { r in
                out.append(
                    DeploySample(
                        isDeploy: r.int(1) == 1, outcome: DeploySample.outcome(index: Int(r.int(0) ?? -1)),
                        startedAt: Date(timeIntervalSince1970: r.double(2) ?? 0),
                        finishedAt: r.double(3).map { Date(timeIntervalSince1970: $0) },
                        commit: r.text(4), leftSwitched: (r.int(5) ?? 0) != 0))
            }
            return out
        }
    }

    static func filter(_ q: LedgerQuery) -> (String, [(any SQLiteBindable)?]) {
        var conditions: [String] = []
        var args: [(any SQLiteBindable)?] = []
        if let from = q.from {
            conditions.append("a.started_at >= ?")
            args.append(from.timeIntervalSince1970)
        }
        if let to = q.to {
            conditions.append("a.started_at < ?")
            args.append(to.timeIntervalSince1970)
        }
        if let app = q.app {
            conditions.append("a.app = ?")
            args.append(app)
        }
        if let stage = q.stage {
            if let s = stage {
                conditions.append("a.stage = ?")
                args.append(s)
            } else {
                conditions.append("a.stage IS NULL")
            }
        }
        if let host = q.host {
            conditions.append("a.id IN (SELECT attempt_id FROM attempt_hosts WHERE host = ?)")
            args.append(host)
        }
        return (conditions.isEmpty ? "" : "WHERE " + conditions.joined(separator: " AND "), args)
    }

    public func attempts(_ q: LedgerQuery) async throws -> [LedgerAttempt] {
        let (whereSQL, arguments) = Self.filter(q)
        // With a limit, the newest N (still returned oldest first).
        let inner =
            "SELECT \(Self.attemptColumns) FROM attempts a \(whereSQL) ORDER BY a.started_at DESC, a.id DESC"
            + (q.limit.map { " LIMIT \($0)" } ?? "")
        let sql = "SELECT * FROM (\(inner)) ORDER BY started_at, id"
        let hostSQL =
            "SELECT \(Self.hostColumns) FROM attempt_hosts h JOIN (\(inner)) a ON a.id = h.attempt_id ORDER BY h.attempt_id, h.host"
        // Read through the SQLite C API: `changes --since 30d` reads thousands of attempts, and
        // per-value generic decoding cost more than the query itself.
        return try await read { db in
            var hosts: [String: [LedgerHostState]] = [:]
            try db.each(hostSQL, arguments) { r in hosts[r.text(0) ?? "", default: []].append(Self.host(r)) }
            var out: [LedgerAttempt] = []
            try db.each(sql, arguments) { r in
                var a = Self.attempt(r)
                a.hosts = hosts[a.id] ?? []
                out.append(a)
            }
            return out
        }
    }

    public func attempt(_ id: String) async throws -> LedgerAttempt? {
        try await read { db in
            var found: LedgerAttempt?
            try db.each("SELECT \(Self.attemptColumns) FROM attempts a WHERE id = ?", [id]) { found = Self.attempt($0) }
            guard var a = found else { return nil }
            try db.each("SELECT \(Self.hostColumns) FROM attempt_hosts h WHERE attempt_id = ? ORDER BY host", [id]) {
                a.hosts.append(Self.host($0))
            }
            return a
        }
    }

    public func steps(attemptID: String) async throws -> [LedgerStep] {
        try await read { db in
            var out: [LedgerStep] = []
            try db.each(
                "SELECT id, attempt_id, host, step, status, started_at, finished_at, exit_status, stderr_tail, message, value FROM steps WHERE attempt_id = ? ORDER BY id",
                [attemptID]
            ) { r in
                out.append(
                    LedgerStep(
                        id: r.int(0), attemptID: r.text(1) ?? "", host: r.text(2), step: r.text(3) ?? "",
                        status: r.text(4) ?? "",
                        startedAt: Date(timeIntervalSince1970: r.double(5) ?? 0),
                        finishedAt: r.double(6).map(Date.init(timeIntervalSince1970:)),
                        exitStatus: r.int(7).map { Int32(truncatingIfNeeded: $0) }, stderrTail: r.text(8),
                        message: r.text(9), value: r.double(10)))
            }
            return out
        }
    }

    // MARK: rows

    static func arguments(_ a: LedgerAttempt) -> [(any SQLiteBindable)?] {
        [
            a.id, a.app, a.stage, a.strategy, a.operation, a.releaseID, a.source, a.commit, a.ref, a.user, a.machine,
            a.pid,
            LedgerJSON.encode(a.ci), a.startedAt.timeIntervalSince1970, a.finishedAt?.timeIntervalSince1970,
            a.outcome.rawValue,
            a.state, a.error, a.changedCount, LedgerJSON.encode(a.changedFiles), a.configHash, a.imageDigest,
            LedgerJSON.encode(a.migrations), a.rollbackUnsafe,
        ]
    }

    static func upsertHost(_ db: SQLiteDatabase, _ attemptID: String, _ h: LedgerHostState) throws {
        try db.run(
            "INSERT OR REPLACE INTO attempt_hosts (attempt_id, host, previous, current, step, status, error, slot, standby, rollout_step, switched_at) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
            [
                attemptID, h.host, h.previous, h.current, h.step, h.status, h.error, h.slot, h.standby, h.rolloutStep,
                h.switchedAt?.timeIntervalSince1970,
            ])
    }

    // Rows are read by position (a name lookup per column costs more than the query itself when
    // `changes` reads thousands of attempts); these lists fix the positions.
    static let hostColumns =
        "h.attempt_id, h.host, h.previous, h.current, h.step, h.status, h.error, h.slot, h.standby, h.rollout_step, h.switched_at"
    static let attemptColumns =
        "a.id, a.app, a.stage, a.strategy, a.operation, a.release_id, a.source, a.commit_sha, a.ref, a.user, a.machine, a.pid, a.ci, a.started_at, a.finished_at, a.outcome, a.state, a.error, a.changed_count, a.changed_files, a.config_hash, a.image_digest, a.migrations, a.rollback_unsafe"

    static func host(_ r: SQLiteDatabase.Row) -> LedgerHostState {
        LedgerHostState(
            host: r.text(1) ?? "", previous: r.text(2), current: r.text(3), step: r.text(4), status: r.text(5),
            error: r.text(6),
            slot: r.int(7).map { Int($0) }, standby: r.text(8),
            rolloutStep: r.int(9).map { Int($0) }, switchedAt: r.double(10).map { Date(timeIntervalSince1970: $0) })
    }

    static func attempt(_ r: SQLiteDatabase.Row) -> LedgerAttempt {
        LedgerAttempt(
            id: r.text(0) ?? "", app: r.text(1) ?? "", stage: r.text(2), strategy: r.text(3) ?? "",
            operation: r.text(4) ?? "",
            releaseID: r.text(5) ?? "", source: r.text(6), commit: r.text(7), ref: r.text(8),
            user: r.text(9) ?? "", machine: r.text(10) ?? "", pid: Int32(r.int(11) ?? 0),
            ci: LedgerJSON.dictionary(r.text(12)),
            startedAt: Date(timeIntervalSince1970: r.double(13) ?? 0),
            finishedAt: r.double(14).map(Date.init(timeIntervalSince1970:)),
            outcome: LedgerAttempt.Outcome(rawValue: r.text(15) ?? "") ?? .running, state: r.text(16) ?? "",
            error: r.text(17),
            changedCount: r.int(18).map { Int($0) }, changedFiles: LedgerJSON.list(r.text(19)),
            configHash: r.text(20) ?? "", imageDigest: r.text(21), migrations: LedgerJSON.list(r.text(22)),
            rollbackUnsafe: (r.int(23) ?? 0) != 0)
    }
}
