import Foundation
import ShipitCore
import TestSupport
import Testing

/// The same suite against both stores (TestStore): SQLite and a real PostgreSQL 15.
@Suite("ledger: schema, writes, time windows, crash recovery")
struct LedgerTests {
    func newLedger() throws -> (SQLiteLedger, String) {
        let path = Local.tempDir("ledger") + "/sub/ledger.sqlite"
        return (try SQLiteLedger(path: path), path)
    }

    func attempt(
        _ id: String, at t: TimeInterval, app: String = "web", stage: String? = nil, hosts: [String] = ["h1", "h2"],
        outcome: LedgerAttempt.Outcome = .succeeded, pid: Int32 = 1, machine: String = "m1"
    ) -> LedgerAttempt {
        LedgerAttempt(
            id: id, app: app, stage: stage, strategy: "symlink", operation: "deploy", releaseID: "r-\(id)",
            user: "ops", machine: machine, pid: pid, startedAt: Date(timeIntervalSince1970: t), outcome: outcome,
            configHash: "c1", hosts: hosts.map { LedgerHostState(host: $0) })
    }

    /// A ledger copied in, restored or made by an older shipit with wide modes: opening it
    /// tightens the file, its -wal and -shm, and shipit's own .shipit directory, and says so.
    @Test func anExistingLedgerWithWideModesIsTightenedOnOpenAndSaysSo() throws {
        let root = Local.tempDir("ledger-modes")
        let dir = root + "/.shipit"
        let path = dir + "/ledger.sqlite"
        do { _ = try SQLiteLedger(path: path) }
        let fm = FileManager.default
        func mode(_ p: String) throws -> Int {
            (try fm.attributesOfItem(atPath: p)[.posixPermissions] as? NSNumber)?.intValue ?? -1
        }
        try fm.setAttributes([.posixPermissions: 0o755], ofItemAtPath: dir)
        try fm.setAttributes([.posixPermissions: 0o644], ofItemAtPath: path)
        if !fm.fileExists(atPath: path + "-wal") { fm.createFile(atPath: path + "-wal", contents: Data()) }
        try fm.setAttributes([.posixPermissions: 0o666], ofItemAtPath: path + "-wal")

        let reopened = try SQLiteLedger(path: path, create: false)
        #expect(try mode(path) == 0o600)
        #expect(try mode(path + "-wal") == 0o600)
        #expect(try mode(dir) == 0o700)
        #expect(
            reopened.modeNotes.contains { $0.contains(path) && $0.contains("0644") && $0.contains("0600") },
            "\(reopened.modeNotes)")
        #expect(
            reopened.modeNotes.contains { $0.contains(dir) && $0.contains("0755") && $0.contains("0700") },
            "\(reopened.modeNotes)")
        // Once tight, nothing to say.
        #expect(try SQLiteLedger(path: path, create: false).modeNotes.isEmpty)

        // A directory the user chose is not changed, only reported when others can write to it.
        let own = Local.tempDir("ledger-modes") + "/shared-dir"
        try fm.createDirectory(atPath: own, withIntermediateDirectories: true)
        try fm.setAttributes([.posixPermissions: 0o777], ofItemAtPath: own)
        let custom = try SQLiteLedger(path: own + "/ledger.sqlite")
        #expect(try mode(own) == 0o777)
        #expect(custom.modeNotes.contains { $0.contains("writable by others") }, "\(custom.modeNotes)")
    }

    /// The shared ledger's password file is the user's: a wide mode is said, not changed.
    @Test func aPasswordFileReadableByOthersIsSaid() throws {
        let file = Local.tempDir("ledger-pw") + "/pw"
        try "secret\n".write(toFile: file, atomically: true, encoding: .utf8)
        try FileManager.default.setAttributes([.posixPermissions: 0o644], ofItemAtPath: file)
        #expect(
            LedgerFileModes.passwordFileNote(file)
                == "the shared ledger's password file \(file) is readable by everyone (mode 0644): chmod 600 it")
        try FileManager.default.setAttributes([.posixPermissions: 0o640], ofItemAtPath: file)
        #expect(LedgerFileModes.passwordFileNote(file)?.contains("readable by its group (mode 0640)") == true)
        #expect(
            (try FileManager.default.attributesOfItem(atPath: file)[.posixPermissions] as? NSNumber)?.intValue == 0o640)
        try FileManager.default.setAttributes([.posixPermissions: 0o600], ofItemAtPath: file)
        #expect(LedgerFileModes.passwordFileNote(file) == nil)
    }

    @Test func createsAPrivateWALDatabaseWithItsMigrations() throws {
        let (ledger, path) = try newLedger()
        let mode = try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? NSNumber
        #expect(mode?.intValue == 0o600)
        let dirMode =
            try FileManager.default.attributesOfItem(atPath: (path as NSString).deletingLastPathComponent)[
                .posixPermissions] as? NSNumber
        #expect(dirMode?.intValue == 0o700)
        let (journal, applied) = try ledger.db.accessNow { db in
            var ids: [String] = []
            try db.each("SELECT identifier FROM grdb_migrations ORDER BY rowid") { ids.append($0.text(0) ?? "") }
            return (try db.text("PRAGMA journal_mode"), ids)
        }
        #expect(journal == "wal")
        #expect(applied == ["v1", "v2-traffic", "v3-rollout", "v4-stats", "v5-step-values"])
        // Reopening an existing ledger runs no migration twice and keeps the data.
        _ = try SQLiteLedger(path: path)
        #expect(throws: ShipitError.self) { try SQLiteLedger(path: path + ".missing", create: false) }
    }

    @Test func postgresHasItsOwnMigrationsAndRefusesAWrongPassword() async throws {
        var t = TestStore.pgTarget
        t.schema = "t_mig_" + UUID().uuidString.prefix(8).lowercased().replacingOccurrences(of: "-", with: "")
        let a = try await PostgresLedger.connect(t)
        let b = try await PostgresLedger.connect(t)  // a second runner: migrations run once, under a lock
        try await a.begin(attempt("x", at: 1))
        #expect(try await b.attempt("x")?.id == "x")
        await a.close()
        await b.close()
        let pw = Local.tempDir("pw") + "/pw"
        try "wrong".write(toFile: pw, atomically: true, encoding: .utf8)
        t.passwordFile = pw
        await #expect(throws: ShipitError.self) { _ = try await PostgresLedger.connect(t) }
        var dead = TestStore.pgTarget
        dead.port = 1
        do {
            _ = try await PostgresLedger.connect(dead, timeout: 2)
            Issue.record("connected to a closed port")
        } catch let e as ShipitError {
            #expect(e.message.contains("unreachable"))
        }
    }

    @Test(arguments: TestStore.allCases) func recordsAttemptHostsAndStepsAsTheyHappen(store: TestStore) async throws {
        let ledger = try await store.make()
        var a = attempt("a1", at: 1000, outcome: .running)
        a.ci = ["GITHUB_RUN_ID": "42"]
        a.changedFiles = ["M app.py"]
        try await ledger.begin(a)
        let step = try await ledger.startStep(
            LedgerStep(
                attemptID: "a1", host: "h1", step: "upload", status: "running",
                startedAt: Date(timeIntervalSince1970: 1001)))
        #expect(try await ledger.steps(attemptID: "a1").map(\.status) == ["running"])
        try await ledger.finishStep(
            step, status: "failed", finishedAt: Date(timeIntervalSince1970: 1002), exitStatus: 20,
            stderrTail: "checksum", message: "checksum mismatch")
        try await ledger.setHost(
            "a1",
            LedgerHostState(
                host: "h1", previous: "r0", current: "r0", step: "upload", status: "failed", error: "checksum mismatch")
        )
        try await ledger.setHost(
            "a1", LedgerHostState(host: "h2", previous: "r0", current: "r1", slot: 8082, standby: "r0"))
        a.outcome = .failed
        a.finishedAt = Date(timeIntervalSince1970: 1003)
        try await ledger.update(a)

        let back = try #require(try await ledger.attempt("a1"))
        #expect(back.outcome == .failed)
        #expect(back.ci == ["GITHUB_RUN_ID": "42"])
        #expect(back.changedFiles == ["M app.py"])
        #expect(back.hosts.first { $0.host == "h1" }?.error == "checksum mismatch")
        #expect(back.hosts.first { $0.host == "h2" }?.step == nil)
        // The traffic switch's slot and warm standby, in both the single-attempt and the window read.
        #expect(back.hosts.first { $0.host == "h2" }.map { [$0.slot.map(String.init), $0.standby] } == ["8082", "r0"])
        let listed = try await ledger.attempts(LedgerQuery(app: a.app, stage: .some(a.stage)))
        #expect(listed.first { $0.id == "a1" }?.hosts.first { $0.host == "h2" }?.slot == 8082)
        let steps = try await ledger.steps(attemptID: "a1")
        #expect(steps.count == 1)
        #expect(steps[0].exitStatus == 20)
        #expect(steps[0].stderrTail == "checksum")
        #expect(steps[0].finishedAt == Date(timeIntervalSince1970: 1002))
    }

    @Test(arguments: TestStore.allCases) func queriesTimeWindowsHostsAppsAndLimits(store: TestStore) async throws {
        let ledger = try await store.make()
        try await ledger.begin(attempt("a1", at: 100, hosts: ["h1"]))
        try await ledger.begin(attempt("a2", at: 200, hosts: ["h1", "h2"]))
        try await ledger.begin(attempt("a3", at: 300, hosts: ["h2"]))
        try await ledger.begin(attempt("b1", at: 250, app: "other"))
        try await ledger.begin(attempt("s1", at: 260, stage: "production"))
        func ids(_ q: LedgerQuery) async throws -> [String] { try await ledger.attempts(q).map(\.id) }

        #expect(try await ids(LedgerQuery(app: "web", stage: .some(nil))) == ["a1", "a2", "a3"])
        #expect(try await ids(LedgerQuery(app: "web")) == ["a1", "a2", "s1", "a3"])
        #expect(try await ids(LedgerQuery(app: "web", stage: .some("production"))) == ["s1"])
        // Start inclusive, end exclusive.
        #expect(
            try await ids(
                LedgerQuery(
                    from: Date(timeIntervalSince1970: 200), to: Date(timeIntervalSince1970: 300), app: "web",
                    stage: .some(nil))) == ["a2"])
        #expect(try await ids(LedgerQuery(app: "web", stage: .some(nil), host: "h2")) == ["a2", "a3"])
        // A limit keeps the newest, still oldest first.
        #expect(try await ids(LedgerQuery(app: "web", stage: .some(nil), limit: 2)) == ["a2", "a3"])
        let a2 = try await ledger.attempts(
            LedgerQuery(from: Date(timeIntervalSince1970: 200), to: Date(timeIntervalSince1970: 201)))
        #expect(a2.first?.hosts.map(\.host) == ["h1", "h2"])
    }

    /// A gate's sampled value is kept with its event (the run's picture draws it over time);
    /// an event without one, or with a number SQL cannot hold, keeps none.
    @Test(arguments: TestStore.allCases) func eventsKeepTheValueTheyMeasured(store: TestStore) async throws {
        let ledger = try await store.make()
        let recorder = AttemptRecorder(
            ledger: ledger, attempt: attempt("v1", at: 1, outcome: .running), redactor: Redactor(environment: [:])
        ) { _ in }
        try await recorder.begin(settings: ["app": "web"])
        await recorder.event(
            "gate", message: "step 1/2 · http on h1: error_ratio = 0.25 > max 0.2", ok: false, value: 0.25)
        await recorder.event("gate", message: "step 1/2 · health on h1: live ok", ok: true)
        await recorder.event("gate", message: "step 1/2 · errors: NaN", ok: false, value: .nan)
        let steps = try await ledger.steps(attemptID: "v1")
        #expect(steps.map(\.value) == [0.25, nil, nil])
        #expect(steps.map(\.status) == ["failed", "info", "failed"])
    }

    /// `ledger migrate` copies each step whole, its measured value too.
    @Test func copyingALedgerKeepsTheStepsValues() async throws {
        let source = try await TestStore.sqlite.make()
        let target = try #require(try await TestStore.postgres.make() as? PostgresLedger)
        try await source.saveConfig(hash: "c1", settings: ["app": "web"])
        try await source.begin(attempt("cp1", at: 10))
        _ = try await source.startStep(
            LedgerStep(
                attemptID: "cp1", host: nil, step: "gate", status: "info", startedAt: Date(timeIntervalSince1970: 11),
                finishedAt: Date(timeIntervalSince1970: 11), message: "step 1/1 · http: x = 0.5", value: 0.5))
        let result = try await LedgerCopy.copy(from: source, to: target)
        #expect(result.steps == 1)
        #expect(try await target.steps(attemptID: "cp1").map(\.value) == [0.5])
    }

    @Test(arguments: TestStore.allCases) func storesEachConfigOnce(store: TestStore) async throws {
        let ledger = try await store.make()
        try await ledger.saveConfig(hash: "c1", settings: ["app": "web", "health.port": "8080"])
        try await ledger.saveConfig(hash: "c1", settings: ["app": "ignored"])
        #expect(try await ledger.config(hash: "c1") == ["app": "web", "health.port": "8080"])
        #expect(try await ledger.config(hash: "nope") == nil)
    }

    /// The key secrets' fingerprints are keyed with: random, made once, the same for every later run.
    @Test(arguments: TestStore.allCases) func theFingerprintKeyIsMadeOnceAndKept(store: TestStore) async throws {
        let ledger = try await store.make()
        let key = try await ledger.fingerprintKey()
        #expect(key.count == 32 && Set(key).count > 4)
        #expect(try await ledger.fingerprintKey() == key)
        let other = try await store.make()
        #expect(try await other.fingerprintKey() != key)
        if let sqlite = ledger as? SQLiteLedger {
            // Beside the ledger, private, and read back by the next process that opens it.
            let attributes = try FileManager.default.attributesOfItem(atPath: sqlite.path + ".key")
            #expect((attributes[.posixPermissions] as? Int) == 0o600)
            #expect(try await SQLiteLedger(path: sqlite.path).fingerprintKey() == key)
        }
    }

    @Test(arguments: TestStore.allCases) func marksAttemptsOfAKilledProcessInterrupted(store: TestStore) async throws {
        let ledger = try await store.make()
        // A real process, killed with SIGKILL: its pid is then dead.
        let child = Process()
        child.executableURL = URL(fileURLWithPath: "/bin/sleep")
        child.arguments = ["3600"]  // outlives any slow run; killed below
        try child.run()
        let deadPid = child.processIdentifier
        try await ledger.begin(attempt("dead", at: 100, outcome: .running, pid: deadPid))
        try await ledger.begin(attempt("alive", at: 200, outcome: .running, pid: getpid()))
        try await ledger.begin(attempt("elsewhere", at: 300, outcome: .running, pid: deadPid, machine: "other-machine"))
        _ = try await ledger.startStep(
            LedgerStep(
                attemptID: "dead", host: "h1", step: "switch", status: "running",
                startedAt: Date(timeIntervalSince1970: 150)))
        try await ledger.setHost(
            "dead", LedgerHostState(host: "h1", previous: "r0", current: "r0", step: "switch", status: "running"))

        #expect(try await ledger.recoverInterrupted(machine: "m1", isAlive: { Invoker.isAlive($0) }).isEmpty)
        kill(deadPid, SIGKILL)
        child.waitUntilExit()
        let recovered = try await ledger.recoverInterrupted(machine: "m1", isAlive: { Invoker.isAlive($0) })
        #expect(recovered.map(\.id) == ["dead"])
        let dead = try #require(try await ledger.attempt("dead"))
        #expect(dead.outcome == .interrupted)
        #expect(dead.finishedAt == Date(timeIntervalSince1970: 150))
        #expect(dead.error?.contains("pid \(deadPid)") == true)
        #expect(dead.hosts.first?.step == "switch")
        #expect(try await ledger.steps(attemptID: "dead").first?.status == "interrupted")
        #expect(try await ledger.attempt("alive")?.outcome == .running)
        #expect(try await ledger.attempt("elsewhere")?.outcome == .running)  // another machine's pid means nothing here
        #expect(LedgerStore.describeInterrupted(dead).contains("h1: switch running"))
    }

    @Test(arguments: TestStore.allCases) func recorderRedactsBeforeWriting(store: TestStore) async throws {
        let ledger = try await store.make()
        let redactor = Redactor(environment: ["DB_PASSWORD": "hunter2-very-secret"])
        let recorder = AttemptRecorder(
            ledger: ledger, attempt: attempt("r1", at: 1, outcome: .running), redactor: redactor
        ) { _ in }
        try await recorder.begin(settings: [
            "app": "web", "env.API_TOKEN": "abc123456", "db": "postgres://u:pw1234@db/x",
        ])
        let row = await recorder.stepStarted(host: "h1", step: "switch", known: LedgerHostState(host: "h1"))
        await recorder.stepFinished(
            row, step: "switch", ok: false, exitStatus: 1, stderrTail: "connect failed: password=hunter2-very-secret",
            message: "start failed with hunter2-very-secret", known: LedgerHostState(host: "h1"))
        await recorder.change { $0.error = "token: ghp_abcdefghijklmnopqrstuvwxyz0123456789" }

        let steps = try await ledger.steps(attemptID: "r1")
        #expect(steps[0].stderrTail == "connect failed: password=***")
        #expect(steps[0].message == "start failed with ***")
        #expect(try await ledger.attempt("r1")?.error == "token: ***")
        #expect(try await ledger.attempt("r1")?.hosts.first?.error == "start failed with ***")
        #expect(
            try await ledger.config(hash: "c1") == [
                "app": "web", "env.API_TOKEN": "***", "db": "postgres://u:***@db/x",
            ])
    }

    @Test(arguments: TestStore.allCases) func anAttemptThatCannotBeRecordedIsRefused(store: TestStore) async throws {
        let ledger = try await store.make()
        try await ledger.begin(attempt("x", at: 1))
        // A second begin with the same id fails (primary key): the recorder must throw, not carry on.
        let recorder = AttemptRecorder(
            ledger: ledger, attempt: attempt("x", at: 2), redactor: Redactor(environment: [:])
        ) { _ in }
        await #expect(throws: ShipitError.self) { try await recorder.begin(settings: [:]) }
    }
}
