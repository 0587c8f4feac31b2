import SSH
import FoundationEssentials
import Logging
import PostgresNIO

/// The shared ledger for teams: the same `Ledger` on PostgreSQL (postgres-nio), with its own schema
/// migrations, indexes for the time-window queries, and a cross-runner run lock
/// (`pg_try_advisory_lock`) so two pipelines cannot deploy the same app and stage at once.
///
/// One connection per process: ledger writes are small and ordered, and a session-level advisory
/// lock lives exactly as long as the connection (a killed run's lock goes with its connection).
public final class PostgresLedger: Ledger, @unchecked Sendable {
    public let target: LedgerLocation.PostgresTarget
    public var location: String { target.display }
    let connection: PostgresConnection
    let logger: Logger
    /// Quoted schema prefix for table names (validated as a plain name).
    let s: String

    public static func connect(_ target: LedgerLocation.PostgresTarget, timeout: Double = 10) async throws -> PostgresLedger {
        var config = PostgresConnection.Configuration(host: target.host, port: target.port, username: target.user,
                                                      password: try target.password(), database: target.database,
                                                      tls: target.tls ? .require(try .init(configuration: .makeClientConfiguration())) : .disable)
        config.options.connectTimeout = .milliseconds(Int64(timeout * 1000))
        var logger = Logger(label: "shipit.ledger")
        logger.logLevel = .critical
        let connection: PostgresConnection
        do {
            connection = try await PostgresConnection.connect(configuration: config, id: 1, logger: logger)
        } catch {
            throw ShipitError("the shared ledger \(target.display) is unreachable: \(Self.describe(error))")
        }
        let ledger = PostgresLedger(target: target, connection: connection, logger: logger)
        do { try await ledger.migrate() } catch {
            try? await connection.close()
            throw ShipitError("the shared ledger \(target.display): \(Self.describe(error))")
        }
        return ledger
    }

    init(target: LedgerLocation.PostgresTarget, connection: PostgresConnection, logger: Logger) {
        self.target = target
        self.connection = connection
        self.logger = logger
        self.s = "\"\(target.schema)\"."
    }

    deinit {
        let c = connection
        Task { try? await c.close() }
    }

    public func close() async { try? await connection.close() }

    static func describe(_ error: Error) -> String {
        if let e = error as? PSQLError {
            return e.serverInfo?[.message] ?? "\(e.code)"
        }
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
            "ALTER TABLE {s}attempts ADD COLUMN IF NOT EXISTS switched_hosts integer",
        ],
    ]

    func sql(_ text: String) -> String { text.replacing("{s}", with: s) }

    func run(_ text: String, _ binds: PostgresBindings = PostgresBindings()) async throws -> PostgresRowSequence {
        try await connection.query(PostgresQuery(unsafeSQL: sql(text), binds: binds), logger: logger)
    }

    func exec(_ text: String, _ binds: PostgresBindings = PostgresBindings()) async throws {
        for try await _ in try await run(text, binds) {}
    }

    func migrate() async throws {
        try await exec("CREATE SCHEMA IF NOT EXISTS \"\(target.schema)\"")
        try await exec("BEGIN")
        do {
            try await exec("SELECT pg_advisory_xact_lock(hashtext('shipit-ledger-migrations'))")
            try await exec("CREATE TABLE IF NOT EXISTS {s}shipit_ledger_schema (version integer PRIMARY KEY, applied_at double precision NOT NULL)")
            var current = 0
            for try await v in try await run("SELECT coalesce(max(version), 0) FROM {s}shipit_ledger_schema").decode(Int.self) { current = v }
            for (i, steps) in Self.migrations.enumerated() where i + 1 > current {
                for step in steps { try await exec(step) }
                var b = PostgresBindings()
                b.append(i + 1)
                b.append(Date().timeIntervalSince1970)
                try await exec("INSERT INTO {s}shipit_ledger_schema (version, applied_at) VALUES ($1, $2)", b)
            }
            try await exec("COMMIT")
        } catch {
            try? await exec("ROLLBACK")
            throw error
        }
    }

    // MARK: binds

    static func binds(_ values: [(any PostgresDynamicTypeEncodable)?]) -> PostgresBindings {
        var b = PostgresBindings()
        for v in values {
            if let v { b.append(v) } else { b.appendNull() }
        }
        return b
    }

    static func attemptValues(_ a: LedgerAttempt) -> [(any PostgresDynamicTypeEncodable)?] {
        [a.id, a.app, a.stage, a.strategy, a.operation, a.releaseID, a.source, a.commit, a.ref, a.user, a.machine, Int(a.pid),
         LedgerJSON.encode(a.ci), a.startedAt.timeIntervalSince1970, a.finishedAt?.timeIntervalSince1970, a.outcome.rawValue,
         a.state, a.error, a.changedCount, LedgerJSON.encode(a.changedFiles), a.configHash, a.imageDigest,
         LedgerJSON.encode(a.migrations), a.rollbackUnsafe]
    }

    static let attemptColumns = "id, app, stage, strategy, operation, release_id, source, commit_sha, ref, \"user\", machine, pid, ci, started_at, finished_at, outcome, state, error, changed_count, changed_files, config_hash, image_digest, migrations, rollback_unsafe"

    // MARK: writes

    public func begin(_ attempt: LedgerAttempt) async throws {
        try await insertAttempt(attempt, ignoreExisting: false)
        for h in attempt.hosts { try await setHost(attempt.id, h) }
    }

    /// Returns whether the row was inserted (false: it was there already and `ignoreExisting`).
    @discardableResult
    func insertAttempt(_ a: LedgerAttempt, ignoreExisting: Bool) async throws -> Bool {
        let marks = (1...24).map { "$\($0)" }.joined(separator: ", ")
        var inserted = false
        for try await _ in try await run("INSERT INTO {s}attempts (\(Self.attemptColumns)) VALUES (\(marks))" + (ignoreExisting ? " ON CONFLICT (id) DO NOTHING" : "") + " RETURNING id",
                                          Self.binds(Self.attemptValues(a))) { inserted = true }
        return inserted
    }

    public func update(_ a: LedgerAttempt) async throws {
        let cols = Self.attemptColumns.split(separator: ",").map { $0.trimmed() }
        let sets = cols.enumerated().dropFirst().map { "\($0.element) = $\($0.offset + 1)" }.joined(separator: ", ")
        try await exec("UPDATE {s}attempts SET \(sets) WHERE id = $1", Self.binds(Self.attemptValues(a)))
    }

    public func setHost(_ attemptID: String, _ h: LedgerHostState) async throws {
        try await exec("INSERT INTO {s}attempt_hosts (attempt_id, host, previous, current, step, status, error, slot, standby, rollout_step, switched_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) ON CONFLICT (attempt_id, host) DO UPDATE SET previous = EXCLUDED.previous, current = EXCLUDED.current, step = EXCLUDED.step, status = EXCLUDED.status, error = EXCLUDED.error, slot = EXCLUDED.slot, standby = EXCLUDED.standby, rollout_step = EXCLUDED.rollout_step, switched_at = EXCLUDED.switched_at",
                       Self.binds([attemptID, h.host, h.previous, h.current, h.step, h.status, h.error, h.slot, h.standby, h.rolloutStep, h.switchedAt?.timeIntervalSince1970]))
    }

    public func saveConfig(hash: String, settings: [String: String]) async throws {
        try await exec("INSERT INTO {s}configs (hash, settings) VALUES ($1, $2) ON CONFLICT (hash) DO NOTHING", Self.binds([hash, LedgerJSON.encode(settings)]))
    }

    public func config(hash: String) async throws -> [String: String]? {
        try await configs(hashes: [hash])[hash]
    }

    public func configs(hashes: [String]) async throws -> [String: [String: String]] {
        guard !hashes.isEmpty else { return [:] }
        var b = PostgresBindings()
        b.append(hashes)
        var out: [String: [String: String]] = [:]
        for try await (h, body) in try await run("SELECT hash, settings FROM {s}configs WHERE hash = ANY($1)", b).decode((String, String).self) {
            out[h] = LedgerJSON.dictionary(body)
        }
        return out
    }

    public func startStep(_ st: LedgerStep) async throws -> Int64 {
        var id: Int64 = 0
        for try await v in try await run("INSERT INTO {s}steps (attempt_id, host, step, status, started_at, finished_at, exit_status, stderr_tail, message) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id",
                                          Self.binds([st.attemptID, st.host, st.step, st.status, st.startedAt.timeIntervalSince1970,
                                                      st.finishedAt?.timeIntervalSince1970, st.exitStatus.map(Int.init), st.stderrTail, st.message])).decode(Int64.self) {
            id = v
        }
        return id
    }

    public func finishStep(_ id: Int64, status: String, finishedAt: Date, exitStatus: Int32?, stderrTail: String?, message: String?) async throws {
        try await exec("UPDATE {s}steps SET status = $1, finished_at = $2, exit_status = $3, stderr_tail = $4, message = $5 WHERE id = $6",
                       Self.binds([status, finishedAt.timeIntervalSince1970, exitStatus.map(Int.init), stderrTail, message, id]))
    }

    public func recoverInterrupted(machine: String, isAlive: @Sendable (Int32) -> Bool) async throws -> [LedgerAttempt] {
        var running: [(String, Int, String)] = []
        for try await row in try await run("SELECT id, pid, state FROM {s}attempts WHERE outcome = 'running' AND machine = $1", Self.binds([machine])).decode((String, Int, String).self) {
            running.append(row)
        }
        var out: [LedgerAttempt] = []
        for (id, pid, state) in running where !isAlive(Int32(pid)) {
            try await exec("UPDATE {s}attempts SET outcome = 'interrupted', finished_at = coalesce((SELECT max(coalesce(finished_at, started_at)) FROM {s}steps WHERE attempt_id = $1), started_at), error = coalesce(error || '; ', '') || $2 WHERE id = $1 AND outcome = 'running'",
                           Self.binds([id, "the shipit process (pid \(pid) on \(machine)) stopped without finishing, in state \(state)"]))
            try await exec("UPDATE {s}steps SET status = 'interrupted' WHERE attempt_id = $1 AND status = 'running'", Self.binds([id]))
            if let a = try await attempt(id) { out.append(a) }
        }
        return out
    }

    // MARK: reads

    func filter(_ q: LedgerQuery) -> (String, [(any PostgresDynamicTypeEncodable)?]) {
        var conditions: [String] = []
        var values: [(any PostgresDynamicTypeEncodable)?] = []
        func add(_ c: String, _ v: (any PostgresDynamicTypeEncodable)?) { values.append(v); conditions.append(c.replacing("?", with: "$\(values.count)")) }
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
        try await exec("UPDATE {s}attempts SET switched_hosts = $1 WHERE id = $2", Self.binds([count, attemptID]))
    }

    public func samples(_ q: LedgerQuery) async throws -> [DeploySample] {
        let (whereSQL, values) = filter(q)
        var out: [DeploySample] = []
        let sql = "SELECT \(DeploySample.columns.replacing("{h}", with: "{s}attempt_hosts")) FROM {s}attempts a \(whereSQL) ORDER BY a.started_at"
        for try await (outcome, deploy, started, finished, commit, switched) in try await run(sql, Self.binds(values)).decode((Int, Int, Double, Double?, String?, Bool).self) {
            out.append(DeploySample(isDeploy: deploy == 1, outcome: DeploySample.outcome(index: outcome), startedAt: Date(timeIntervalSince1970: started),
                                    finishedAt: finished.map { Date(timeIntervalSince1970: $0) }, commit: commit, leftSwitched: switched))
        }
        return out
    }

    public func count(_ q: LedgerQuery) async throws -> Int {
        let (whereSQL, values) = filter(q)
        var n = 0
        for try await v in try await run("SELECT count(*) FROM {s}attempts a \(whereSQL)", Self.binds(values)).decode(Int.self) { n = v }
        return n
    }

    public func attempts(_ q: LedgerQuery) async throws -> [LedgerAttempt] {
        let (whereSQL, values) = filter(q)
        let prefixed = Self.attemptColumns.split(separator: ",").map { "a." + $0.trimmed() }.joined(separator: ", ")
        let inner = "SELECT \(prefixed) FROM {s}attempts a \(whereSQL) ORDER BY a.started_at DESC, a.id DESC" + (q.limit.map { " LIMIT \($0)" } ?? "")
        var hosts: [String: [LedgerHostState]] = [:]
        for try await row in try await run("SELECT h.attempt_id, h.host, h.previous, h.current, h.step, h.status, h.error, h.slot, h.standby, h.rollout_step, h.switched_at FROM {s}attempt_hosts h JOIN (\(inner)) a ON a.id = h.attempt_id ORDER BY h.attempt_id, h.host", Self.binds(values)) {
            let (id, host, prev, cur, step, status, err, slot, standby, rs, at) = try row.decode((String, String, String?, String?, String?, String?, String?, Int?, String?, Int?, Double?).self)
            hosts[id, default: []].append(LedgerHostState(host: host, previous: prev, current: cur, step: step, status: status, error: err, slot: slot, standby: standby,
                                                          rolloutStep: rs, switchedAt: at.map { Date(timeIntervalSince1970: $0) }))
        }
        var out: [LedgerAttempt] = []
        for try await row in try await run("SELECT * FROM (\(inner)) a ORDER BY started_at, id", Self.binds(values)) {
            var a = try Self.attempt(row)
            a.hosts = hosts[a.id] ?? []
            out.append(a)
        }
        return out
    }

    public func attempt(_ id: String) async throws -> LedgerAttempt? {
        var found: LedgerAttempt?
        for try await row in try await run("SELECT \(Self.attemptColumns) FROM {s}attempts WHERE id = $1", Self.binds([id])) { found = try Self.attempt(row) }
        guard var a = found else { return nil }
        for try await (host, prev, cur, step, status, err, slot, standby, rs, at) in try await run("SELECT host, previous, current, step, status, error, slot, standby, rollout_step, switched_at FROM {s}attempt_hosts WHERE attempt_id = $1 ORDER BY host", Self.binds([id]))
            .decode((String, String?, String?, String?, String?, String?, Int?, String?, Int?, Double?).self) {
            a.hosts.append(LedgerHostState(host: host, previous: prev, current: cur, step: step, status: status, error: err, slot: slot, standby: standby,
                                           rolloutStep: rs, switchedAt: at.map { Date(timeIntervalSince1970: $0) }))
        }
        return a
    }

    public func steps(attemptID: String) async throws -> [LedgerStep] {
        var out: [LedgerStep] = []
        for try await row in try await run("SELECT id, attempt_id, host, step, status, started_at, finished_at, exit_status, stderr_tail, message FROM {s}steps WHERE attempt_id = $1 ORDER BY id", Self.binds([attemptID])) {
            let r = row.makeRandomAccess()
            out.append(LedgerStep(id: try r[0].decode(Int64.self), attemptID: try r[1].decode(String.self), host: try r[2].decode(String?.self),
                                  step: try r[3].decode(String.self), status: try r[4].decode(String.self),
                                  startedAt: Date(timeIntervalSince1970: try r[5].decode(Double.self)),
                                  finishedAt: try r[6].decode(Double?.self).map(Date.init(timeIntervalSince1970:)),
                                  exitStatus: try r[7].decode(Int?.self).map { Int32($0) }, stderrTail: try r[8].decode(String?.self),
                                  message: try r[9].decode(String?.self)))
        }
        return out
    }

    static func attempt(_ row: PostgresRow) throws -> LedgerAttempt {
        let r = row.makeRandomAccess()
        func str(_ i: Int) throws -> String { try r[i].decode(String.self) }
        func opt(_ i: Int) throws -> String? { try r[i].decode(String?.self) }
        return LedgerAttempt(
            id: try str(0), app: try str(1), stage: try opt(2), strategy: try str(3), operation: try str(4), releaseID: try str(5),
            source: try opt(6), commit: try opt(7), ref: try opt(8), user: try str(9), machine: try str(10), pid: Int32(try r[11].decode(Int.self)),
            ci: LedgerJSON.dictionary(try opt(12)), startedAt: Date(timeIntervalSince1970: try r[13].decode(Double.self)),
            finishedAt: try r[14].decode(Double?.self).map(Date.init(timeIntervalSince1970:)),
            outcome: LedgerAttempt.Outcome(rawValue: try str(15)) ?? .running, state: try str(16), error: try opt(17),
            changedCount: try r[18].decode(Int?.self), changedFiles: LedgerJSON.list(try opt(19)), configHash: try str(20),
            imageDigest: try opt(21), migrations: LedgerJSON.list(try opt(22)), rollbackUnsafe: try r[23].decode(Bool.self))
    }
}

/// A run lock every runner sees: one deploy or rollback of an app and stage at a time, whatever
/// machine it runs on. The host-side lock stays; this one fails before any host is touched.
public protocol SharedRunLock: Sendable {
    /// nil when acquired; otherwise who holds it (after waiting up to `waitSeconds`).
    func acquireRunLock(app: String, stage: String?, attemptID: String, holder: String, waitSeconds: Int) async throws -> String?
    func releaseRunLock(app: String, stage: String?) async
}

extension PostgresLedger: SharedRunLock {
    static func lockKey(app: String, stage: String?) -> String { "shipit-run:\(app)/\(stage ?? "")" }

    public func acquireRunLock(app: String, stage: String?, attemptID: String, holder: String, waitSeconds: Int) async throws -> String? {
        let key = Self.lockKey(app: app, stage: stage)
        let deadline = Date().addingTimeInterval(Double(waitSeconds))
        while true {
            var got = false
            for try await v in try await run("SELECT pg_try_advisory_lock(hashtext($1))", Self.binds([key])).decode(Bool.self) { got = v }
            if got {
                try await exec("INSERT INTO {s}run_locks (key, app, stage, attempt_id, holder, since) VALUES (hashtext($1), $2, $3, $4, $5, $6) ON CONFLICT (key) DO UPDATE SET attempt_id = EXCLUDED.attempt_id, holder = EXCLUDED.holder, since = EXCLUDED.since",
                               Self.binds([key, app, stage, attemptID, holder, Date().timeIntervalSince1970]))
                return nil
            }
            if Date() >= deadline {
                var who = "another run"
                for try await (a, h, since) in try await run("SELECT attempt_id, holder, since FROM {s}run_locks WHERE key = hashtext($1)", Self.binds([key])).decode((String, String, Double).self) {
                    who = "\(h) (attempt \(a), since \(UTCTime.short(Date(timeIntervalSince1970: since))))"
                }
                return who
            }
            try await Task.sleep(for: .milliseconds(200))
        }
    }

    public func releaseRunLock(app: String, stage: String?) async {
        try? await exec("SELECT pg_advisory_unlock(hashtext($1))", Self.binds([Self.lockKey(app: app, stage: stage)]))
    }
}
