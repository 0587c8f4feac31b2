import FoundationEssentials
import SSH

/// A value sent as a query parameter, in PostgreSQL's text format.
protocol PostgresParameter: Sendable { var postgresText: String { get } }
extension String: PostgresParameter { var postgresText: String { self } }
extension Int: PostgresParameter { var postgresText: String { String(self) } }
extension Int64: PostgresParameter { var postgresText: String { String(self) } }
extension Double: PostgresParameter { var postgresText: String { "\(self)" } }
extension Bool: PostgresParameter { var postgresText: String { self ? "true" : "false" } }

/// The shared ledger for teams: the same `Ledger` on PostgreSQL (libpq), with its own schema
/// migrations, indexes for the time-window queries, and a cross-runner run lock
/// (`pg_try_advisory_lock`) so two pipelines cannot deploy the same app and stage at once.
///
/// One connection per process: ledger writes are small and ordered, and a session-level advisory
/// lock lives exactly as long as the connection (a killed run's lock goes with its connection).
public final class PostgresLedger: Ledger, @unchecked Sendable {
    public let target: LedgerLocation.PostgresTarget
    public var location: String { target.display }
    let connection: PostgresClient
    /// Quoted schema prefix for table names (validated as a plain name).
    let s: String

    public static func connect(_ target: LedgerLocation.PostgresTarget, timeout: Double = 10) async throws
        -> PostgresLedger
    {
        let connection: PostgresClient
        do {
            connection = try await PostgresClient.connect(target, password: try target.password(), timeout: timeout)
        } catch let e as PostgresClient.Failure {
            throw ShipitError("the shared ledger \(target.display) is unreachable: \(e.message)")
        }
        let ledger = PostgresLedger(target: target, connection: connection)
        do { try await ledger.migrate() } catch {
            throw ShipitError("the shared ledger \(target.display): \(Self.describe(error))")
        }
        return ledger
    }

    init(target: LedgerLocation.PostgresTarget, connection: PostgresClient) {
        self.target = target
        self.connection = connection
        self.s = "\"\(target.schema)\"."
    }

    /// The connection closes when the ledger goes (libpq's PQfinish in the client's deinit).
    public func close() async {}

    static func describe(_ error: Error) -> String {
        if let e = error as? PostgresClient.Failure { return e.message }
        return "\(error)"
    }

    // MARK: schema

    /// Schema versions, applied in order under a transaction-level advisory lock (several runners
    /// may start at once). Never edit a shipped step: add one.
    static let migrations: [[String]] = [
        [
            "CREATE TABLE IF NOT EXISTS {s}attempts (id text PRIMARY KEY, app text NOT NULL, stage text, strategy text NOT NULL, operation text NOT NULL, release_id text NOT NULL, source text, commit_sha text, ref text, \"user\" text NOT NULL, machine text NOT NULL, pid integer NOT NULL, ci text NOT NULL DEFAULT '{}', started_at double precision NOT NULL, finished_at double precision, outcome text NOT NULL, state text NOT NULL, error text, changed_count integer, changed_files text NOT NULL DEFAULT '[]', config_hash text NOT NULL, image_digest text, migrations text NOT NULL DEFAULT '[]', rollback_unsafe boolean NOT NULL DEFAULT false)",
            "CREATE INDEX IF NOT EXISTS attempts_started ON {s}attempts (started_at)",
            "CREATE INDEX IF NOT EXISTS attempts_app_started ON {s}attempts (app, started_at)",
            "CREATE INDEX IF NOT EXISTS attempts_running ON {s}attempts (machine) WHERE outcome = 'running'",
            "CREATE TABLE IF NOT EXISTS {s}attempt_hosts (attempt_id text NOT NULL REFERENCES {s}attempts(id) ON DELETE CASCADE, host text NOT NULL, previous text, current text, step text, status text, error text, PRIMARY KEY (attempt_id, host))",
            "CREATE INDEX IF NOT EXISTS attempt_hosts_host ON {s}attempt_hosts (host, attempt_id)",
            "CREATE TABLE IF NOT EXISTS {s}steps (id bigserial PRIMARY KEY, attempt_id text NOT NULL REFERENCES {s}attempts(id) ON DELETE CASCADE, host text, step text NOT NULL, status text NOT NULL, started_at double precision NOT NULL, finished_at double precision, exit_status integer, stderr_tail text, message text)",
            "CREATE INDEX IF NOT EXISTS steps_attempt ON {s}steps (attempt_id, id)",
            "CREATE TABLE IF NOT EXISTS {s}configs (hash text PRIMARY KEY, settings text NOT NULL)",
            "CREATE TABLE IF NOT EXISTS {s}run_locks (key bigint PRIMARY KEY, app text NOT NULL, stage text, attempt_id text NOT NULL, holder text NOT NULL, since double precision NOT NULL)",
        ],
        // The traffic switch: which slot served each host, and its warm standby.
        [
            "ALTER TABLE {s}attempt_hosts ADD COLUMN IF NOT EXISTS slot integer",
            "ALTER TABLE {s}attempt_hosts ADD COLUMN IF NOT EXISTS standby text",
        ],
        // Progressive rollout: each host's step and when it switched.
        [
            "ALTER TABLE {s}attempt_hosts ADD COLUMN IF NOT EXISTS rollout_step integer",
            "ALTER TABLE {s}attempt_hosts ADD COLUMN IF NOT EXISTS switched_at double precision",
        ],
        // `shipit stats`: each run's switched-host count.
        [
            "ALTER TABLE {s}attempts ADD COLUMN IF NOT EXISTS switched_hosts integer"
        ],
        // Secrets' fingerprints: the ledger's own key (one row, made by the first run that needs it).
        [
            "CREATE TABLE IF NOT EXISTS {s}fingerprint_key (id integer PRIMARY KEY CHECK (id = 1), key text NOT NULL)"
        ],
        // The number an event measured (a gate's sample), for `shipit report` to draw over time.
        [
            "ALTER TABLE {s}steps ADD COLUMN IF NOT EXISTS value double precision"
        ],
    ]

    func sql(_ text: String) -> String { text.replacing("{s}", with: s) }

    func run(_ text: String, _ values: [(any PostgresParameter)?] = []) async throws -> PostgresClient.Rows {
        try await connection.query(sql(text), values.map { $0?.postgresText })
    }

    func exec(_ text: String, _ values: [(any PostgresParameter)?] = []) async throws {
        try await run(text, values)
    }

    /// In a table of its own (`fingerprint_key`), made by the first run that needs it: every
    /// deployer that shares the ledger compares the same fingerprints. Who can read that table can
    /// test guesses of a secret against its fingerprint; grant it like the secrets themselves.
    public func fingerprintKey() async throws -> Data {
        try await exec(
            "INSERT INTO {s}fingerprint_key (id, key) VALUES (1, $1) ON CONFLICT (id) DO NOTHING",
            [FingerprintKey.newHex()])
        guard let hex = try await run("SELECT key FROM {s}fingerprint_key WHERE id = 1").text(0, 0),
            let key = FingerprintKey.bytes(hex: hex)
        else { throw ShipitError("ledger \(location): no valid fingerprint key") }
        return key
    }

    /// Takes `key` as this ledger's fingerprint key unless it has one; whether it is the key now.
    public func adoptFingerprintKey(_ key: Data) async throws -> Bool {
        try await exec(
            "INSERT INTO {s}fingerprint_key (id, key) VALUES (1, $1) ON CONFLICT (id) DO NOTHING",
            [Digest.hex(key)])
        return try await fingerprintKey() == key
    }

    func migrate() async throws {
        try await exec("CREATE SCHEMA IF NOT EXISTS \"\(target.schema)\"")
        try await exec("BEGIN")
        do {
            try await exec("SELECT pg_advisory_xact_lock(hashtext('shipit-ledger-migrations'))")
            try await exec(
                "CREATE TABLE IF NOT EXISTS {s}shipit_ledger_schema (version integer PRIMARY KEY, applied_at double precision NOT NULL)"
            )
            let current = try await run("SELECT coalesce(max(version), 0) FROM {s}shipit_ledger_schema").int(0, 0) ?? 0
            for (i, steps) in Self.migrations.enumerated() where i + 1 > current {
                for step in steps { try await exec(step) }
                try await exec(
                    "INSERT INTO {s}shipit_ledger_schema (version, applied_at) VALUES ($1, $2)",
                    [i + 1, Date().timeIntervalSince1970])
            }
            try await exec("COMMIT")
        } catch {
            try? await exec("ROLLBACK")
            throw error
        }
    }

    // MARK: binds

    static func attemptValues(_ a: LedgerAttempt) -> [(any PostgresParameter)?] {
        [
            a.id, a.app, a.stage, a.strategy, a.operation, a.releaseID, a.source, a.commit, a.ref, a.user, a.machine,
            Int(a.pid),
            LedgerJSON.encode(a.ci), a.startedAt.timeIntervalSince1970, a.finishedAt?.timeIntervalSince1970,
            a.outcome.rawValue,
            a.state, a.error, a.changedCount, LedgerJSON.encode(a.changedFiles), a.configHash, a.imageDigest,
            LedgerJSON.encode(a.migrations), a.rollbackUnsafe,
        ]
    }

    static let attemptColumns =
        "id, app, stage, strategy, operation, release_id, source, commit_sha, ref, \"user\", machine, pid, ci, started_at, finished_at, outcome, state, error, changed_count, changed_files, config_hash, image_digest, migrations, rollback_unsafe"

    // MARK: writes

    public func begin(_ attempt: LedgerAttempt) async throws {
        try await insertAttempt(attempt, ignoreExisting: false)
        for h in attempt.hosts { try await setHost(attempt.id, h) }
    }

    /// Returns whether the row was inserted (false: it was there already and `ignoreExisting`).
    @discardableResult
    func insertAttempt(_ a: LedgerAttempt, ignoreExisting: Bool) async throws -> Bool {
        let marks = (1...24).map { "$\($0)" }.joined(separator: ", ")
        return try await run(
            "INSERT INTO {s}attempts (\(Self.attemptColumns)) VALUES (\(marks))"
                + (ignoreExisting ? " ON CONFLICT (id) DO NOTHING" : "") + " RETURNING id",
            Self.attemptValues(a)
        ).count > 0
    }

    public func update(_ a: LedgerAttempt) async throws {
        let cols = Self.attemptColumns.split(separator: ",").map { $0.trimmed() }
        let sets = cols.enumerated().dropFirst().map { "\($0.element) = $\($0.offset + 1)" }.joined(separator: ", ")
        try await exec("UPDATE {s}attempts SET \(sets) WHERE id = $1", (Self.attemptValues(a)))
    }

    public func setHost(_ attemptID: String, _ h: LedgerHostState) async throws {
        try await exec(
            "INSERT INTO {s}attempt_hosts (attempt_id, host, previous, current, step, status, error, slot, standby, rollout_step, switched_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) ON CONFLICT (attempt_id, host) DO UPDATE SET previous = EXCLUDED.previous, current = EXCLUDED.current, step = EXCLUDED.step, status = EXCLUDED.status, error = EXCLUDED.error, slot = EXCLUDED.slot, standby = EXCLUDED.standby, rollout_step = EXCLUDED.rollout_step, switched_at = EXCLUDED.switched_at",
            ([
                attemptID, h.host, h.previous, h.current, h.step, h.status, h.error, h.slot, h.standby, h.rolloutStep,
                h.switchedAt?.timeIntervalSince1970,
            ]))
    }

    public func saveConfig(hash: String, settings: [String: String]) async throws {
        try await exec(
            "INSERT INTO {s}configs (hash, settings) VALUES ($1, $2) ON CONFLICT (hash) DO NOTHING",
            ([hash, LedgerJSON.encode(settings)]))
    }

    public func config(hash: String) async throws -> [String: String]? {
        try await configs(hashes: [hash])[hash]
    }

    public func configs(hashes: [String]) async throws -> [String: [String: String]] {
        guard !hashes.isEmpty else { return [:] }
        let marks = hashes.indices.map { "$\($0 + 1)" }.joined(separator: ", ")
        let rows = try await run("SELECT hash, settings FROM {s}configs WHERE hash IN (\(marks))", hashes)
        var out: [String: [String: String]] = [:]
        for r in 0..<rows.count { if let h = rows.text(r, 0) { out[h] = LedgerJSON.dictionary(rows.text(r, 1)) } }
        return out
    }

    public func startStep(_ st: LedgerStep) async throws -> Int64 {
        let rows = try await run(
            "INSERT INTO {s}steps (attempt_id, host, step, status, started_at, finished_at, exit_status, stderr_tail, message, value) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING id",
            [
                st.attemptID, st.host, st.step, st.status, st.startedAt.timeIntervalSince1970,
                st.finishedAt?.timeIntervalSince1970, st.exitStatus.map(Int.init), st.stderrTail, st.message,
                st.value,
            ])
        return rows.count > 0 ? Int64(rows.int(0, 0) ?? 0) : 0
    }

    public func finishStep(
        _ id: Int64, status: String, finishedAt: Date, exitStatus: Int32?, stderrTail: String?, message: String?
    ) async throws {
        try await exec(
            "UPDATE {s}steps SET status = $1, finished_at = $2, exit_status = $3, stderr_tail = $4, message = $5 WHERE id = $6",
            ([status, finishedAt.timeIntervalSince1970, exitStatus.map(Int.init), stderrTail, message, id]))
    }

    public func recoverInterrupted(machine: String, isAlive: @Sendable (Int32) -> Bool) async throws -> [LedgerAttempt]
    {
        let rows = try await run(
            "SELECT id, pid, state FROM {s}attempts WHERE outcome = 'running' AND machine = $1", [machine])
        let running = (0..<rows.count).map { (rows.text($0, 0) ?? "", rows.int($0, 1) ?? 0, rows.text($0, 2) ?? "") }
        var out: [LedgerAttempt] = []
        for (id, pid, state) in running where !isAlive(Int32(pid)) {
            try await exec(
                "UPDATE {s}attempts SET outcome = 'interrupted', finished_at = coalesce((SELECT max(coalesce(finished_at, started_at)) FROM {s}steps WHERE attempt_id = $1), started_at), error = coalesce(error || '; ', '') || $2 WHERE id = $1 AND outcome = 'running'",
                ([id, "the shipit process (pid \(pid) on \(machine)) stopped without finishing, in state \(state)"]))
            try await exec(
                "UPDATE {s}steps SET status = 'interrupted' WHERE attempt_id = $1 AND status = 'running'", ([id]))
            if let a = try await attempt(id) { out.append(a) }
        }
        return out
    }

    // MARK: reads

    func filter(_ q: LedgerQuery) -> (String, [(any PostgresParameter)?]) {
        var conditions: [String] = []
        var values: [(any PostgresParameter)?] = []
        func add(_ c: String, _ v: (any PostgresParameter)?) {
            values.append(v)
            conditions.append(c.replacing("?", with: "$\(values.count)"))
        }
        if let from = q.from { add("a.started_at >= ?", from.timeIntervalSince1970) }
        if let to = q.to { add("a.started_at < ?", to.timeIntervalSince1970) }
        if let app = q.app { add("a.app = ?", app) }
        if let stage = q.stage {
            if let st = stage { add("a.stage = ?", st) } else { conditions.append("a.stage IS NULL") }
        }
        if let host = q.host { add("a.id IN (SELECT attempt_id FROM {s}attempt_hosts WHERE host = ?)", host) }
        return (conditions.isEmpty ? "" : "WHERE " + conditions.joined(separator: " AND "), values)
    }

    public func setSwitchedHosts(_ attemptID: String, _ count: Int) async throws {
        try await exec("UPDATE {s}attempts SET switched_hosts = $1 WHERE id = $2", ([count, attemptID]))
    }

    public func samples(_ q: LedgerQuery) async throws -> [DeploySample] {
        let (whereSQL, values) = filter(q)
        var out: [DeploySample] = []
        let sql =
            "SELECT \(DeploySample.columns.replacing("{h}", with: "{s}attempt_hosts")) FROM {s}attempts a \(whereSQL) ORDER BY a.started_at"
        let rows = try await run(sql, values)
        out.reserveCapacity(rows.count)
        for r in 0..<rows.count {
            out.append(
                DeploySample(
                    isDeploy: rows.int(r, 1) == 1, outcome: DeploySample.outcome(index: rows.int(r, 0) ?? -1),
                    startedAt: Date(timeIntervalSince1970: rows.double(r, 2) ?? 0),
                    finishedAt: rows.double(r, 3).map { Date(timeIntervalSince1970: $0) }, commit: rows.text(r, 4),
                    leftSwitched: rows.bool(r, 5) ?? false))
        }
        return out
    }

    public func count(_ q: LedgerQuery) async throws -> Int {
        let (whereSQL, values) = filter(q)
        return try await run("SELECT count(*) FROM {s}attempts a \(whereSQL)", values).int(0, 0) ?? 0
    }

    public func attempts(_ q: LedgerQuery) async throws -> [LedgerAttempt] {
        let (whereSQL, values) = filter(q)
        let prefixed = Self.attemptColumns.split(separator: ",").map { "a." + $0.trimmed() }.joined(separator: ", ")
        let inner =
            "SELECT \(prefixed) FROM {s}attempts a \(whereSQL) ORDER BY a.started_at DESC, a.id DESC"
            + (q.limit.map { " LIMIT \($0)" } ?? "")
        var hosts: [String: [LedgerHostState]] = [:]
        let hostRows = try await run(
            "SELECT h.attempt_id, h.host, h.previous, h.current, h.step, h.status, h.error, h.slot, h.standby, h.rollout_step, h.switched_at FROM {s}attempt_hosts h JOIN (\(inner)) a ON a.id = h.attempt_id ORDER BY h.attempt_id, h.host",
            values)
        for r in 0..<hostRows.count {
            hosts[hostRows.text(r, 0) ?? "", default: []].append(Self.host(hostRows, r, from: 1))
        }
        let rows = try await run("SELECT * FROM (\(inner)) a ORDER BY started_at, id", values)
        return (0..<rows.count).map { r in
            var a = Self.attempt(rows, r)
            a.hosts = hosts[a.id] ?? []
            return a
        }
    }

    public func attempt(_ id: String) async throws -> LedgerAttempt? {
        let rows = try await run("SELECT \(Self.attemptColumns) FROM {s}attempts WHERE id = $1", [id])
        guard rows.count > 0 else { return nil }
        var a = Self.attempt(rows, 0)
        let hostRows = try await run(
            "SELECT host, previous, current, step, status, error, slot, standby, rollout_step, switched_at FROM {s}attempt_hosts WHERE attempt_id = $1 ORDER BY host",
            [id])
        a.hosts = (0..<hostRows.count).map { Self.host(hostRows, $0, from: 0) }
        return a
    }

    public func steps(attemptID: String) async throws -> [LedgerStep] {
        let rows = try await run(
            "SELECT id, attempt_id, host, step, status, started_at, finished_at, exit_status, stderr_tail, message, value FROM {s}steps WHERE attempt_id = $1 ORDER BY id",
            [attemptID])
        return (0..<rows.count).map { r in
            LedgerStep(
                id: rows.int(r, 0).map(Int64.init), attemptID: rows.text(r, 1) ?? "", host: rows.text(r, 2),
                step: rows.text(r, 3) ?? "", status: rows.text(r, 4) ?? "",
                startedAt: Date(timeIntervalSince1970: rows.double(r, 5) ?? 0),
                finishedAt: rows.double(r, 6).map(Date.init(timeIntervalSince1970:)),
                exitStatus: rows.int(r, 7).map { Int32(truncatingIfNeeded: $0) }, stderrTail: rows.text(r, 8),
                message: rows.text(r, 9), value: rows.double(r, 10))
        }
    }

    /// A host row whose columns start at `first`: host, previous, current, step, status, error,
    /// slot, standby, rollout_step, switched_at.
    static func host(_ rows: PostgresClient.Rows, _ r: Int, from first: Int) -> LedgerHostState {
        LedgerHostState(
            host: rows.text(r, first) ?? "", previous: rows.text(r, first + 1), current: rows.text(r, first + 2),
            step: rows.text(r, first + 3),
            status: rows.text(r, first + 4), error: rows.text(r, first + 5), slot: rows.int(r, first + 6),
            standby: rows.text(r, first + 7),
            rolloutStep: rows.int(r, first + 8),
            switchedAt: rows.double(r, first + 9).map { Date(timeIntervalSince1970: $0) })
    }

    static func attempt(_ rows: PostgresClient.Rows, _ r: Int) -> LedgerAttempt {
        func str(_ i: Int) -> String { rows.text(r, i) ?? "" }
        func opt(_ i: Int) -> String? { rows.text(r, i) }
        return LedgerAttempt(
            id: str(0), app: str(1), stage: opt(2), strategy: str(3), operation: str(4), releaseID: str(5),
            source: opt(6), commit: opt(7), ref: opt(8), user: str(9), machine: str(10),
            pid: Int32(rows.int(r, 11) ?? 0),
            ci: LedgerJSON.dictionary(opt(12)), startedAt: Date(timeIntervalSince1970: rows.double(r, 13) ?? 0),
            finishedAt: rows.double(r, 14).map(Date.init(timeIntervalSince1970:)),
            outcome: LedgerAttempt.Outcome(rawValue: str(15)) ?? .running, state: str(16), error: opt(17),
            changedCount: rows.int(r, 18), changedFiles: LedgerJSON.list(opt(19)), configHash: str(20),
            imageDigest: opt(21), migrations: LedgerJSON.list(opt(22)), rollbackUnsafe: rows.bool(r, 23) ?? false)
    }
}

/// A run lock every runner sees: one deploy or rollback of an app and stage at a time, whatever
/// machine it runs on. The host-side lock stays; this one fails before any host is touched.
public protocol SharedRunLock: Sendable {
    /// nil when acquired; otherwise who holds it (after waiting up to `waitSeconds`).
    func acquireRunLock(app: String, stage: String?, attemptID: String, holder: String, waitSeconds: Int) async throws
        -> String?
    func releaseRunLock(app: String, stage: String?) async
}

extension PostgresLedger: SharedRunLock {
    static func lockKey(app: String, stage: String?) -> String { "shipit-run:\(app)/\(stage ?? "")" }

    public func acquireRunLock(app: String, stage: String?, attemptID: String, holder: String, waitSeconds: Int)
        async throws -> String?
    {
        let key = Self.lockKey(app: app, stage: stage)
        let deadline = Date().addingTimeInterval(Double(waitSeconds))
        while true {
            if try await run("SELECT pg_try_advisory_lock(hashtext($1))", [key]).bool(0, 0) == true {
                try await exec(
                    "INSERT INTO {s}run_locks (key, app, stage, attempt_id, holder, since) VALUES (hashtext($1), $2, $3, $4, $5, $6) ON CONFLICT (key) DO UPDATE SET attempt_id = EXCLUDED.attempt_id, holder = EXCLUDED.holder, since = EXCLUDED.since",
                    ([key, app, stage, attemptID, holder, Date().timeIntervalSince1970]))
                return nil
            }
            if Date() >= deadline {
                let rows = try await run(
                    "SELECT attempt_id, holder, since FROM {s}run_locks WHERE key = hashtext($1)", [key])
                guard rows.count > 0 else { return "another run" }
                return
                    "\(rows.text(0, 1) ?? "?") (attempt \(rows.text(0, 0) ?? "?"), since \(UTCTime.short(Date(timeIntervalSince1970: rows.double(0, 2) ?? 0))))"
            }
            try await Task.sleep(for: .milliseconds(200))
        }
    }

    public func releaseRunLock(app: String, stage: String?) async {
        try? await exec("SELECT pg_advisory_unlock(hashtext($1))", ([Self.lockKey(app: app, stage: stage)]))
    }
}
