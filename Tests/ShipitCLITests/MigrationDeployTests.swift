import Foundation
import ShipitCore
import TestSupport
import Testing

/// The migration gate against a real PostgreSQL 15 (scripts/pg.sh) and the real sshd hosts: the
/// first host runs psql with DATABASE_URL from an env file in its shared dir. Each test has its own
/// database schema.
@Suite("migrations: real PostgreSQL, real sshd hosts")
struct MigrationDeployTests {
    let bin = ShipitBinary()

    struct DB {
        let schema: String
        let password: String

        init() throws {
            schema = "m_" + UUID().uuidString.prefix(10).lowercased().replacingOccurrences(of: "-", with: "")
            password = try String(contentsOfFile: TestStore.pgTarget.passwordFile!, encoding: .utf8).trimmingCharacters(
                in: .whitespacesAndNewlines)
        }

        var url: String {
            let t = TestStore.pgTarget
            return
                "postgresql://\(t.user):\(password)@\(t.host):\(t.port)/\(t.database)?options=-csearch_path%3D\(schema)"
        }

        @discardableResult
        func sql(_ q: String) async throws -> String {
            let t = TestStore.pgTarget
            return try await Local.run(
                [
                    "psql", "-h", t.host, "-p", String(t.port), "-U", t.user, "-d", t.database, "-qtAX", "-v",
                    "ON_ERROR_STOP=1",
                    "-c", "SET search_path TO \(schema)", "-c", q,
                ],
                environment: ProcessInfo.processInfo.environment.merging(["PGPASSWORD": password]) { $1 }
            )
            .trimmingCharacters(in: .whitespacesAndNewlines)
        }
    }

    /// A fixture whose first host runs migrations against this test's schema.
    func fixture() async throws -> (DeployFixture, DB) {
        let db = try DB()
        try await db.sql("CREATE SCHEMA \(db.schema)")
        let tag = UUID().uuidString.prefix(6)
        let envFile = "/srv/mig-\(tag).env"
        let f = try DeployFixture(
            extraYAML: "migrations:\n  dir: db/migrations\n  env_file: \(envFile)\ntriage:\n  load_max_per_cpu: 1000")
        _ = try await f.sh(f.targets[0], "umask 077; printf 'DATABASE_URL=%s\\n' '\(db.url)' > \(envFile)")
        return (f, db)
    }

    @Test func expandThenContractRefusedThenAllowedThenRollbackPastItRefused() async throws {
        let (f, db) = try await fixture()
        try await withCleanup({ await f.cleanUp() }) {
            #expect(try await f.shipit(["deploy", "--from", f.release("v1")]).status == 0)
            let v2 = try await f.shipit(["deploy", "--from", f.release("v2")])
            #expect(v2.status == 0, "\(v2.stdout)")
            #expect(
                try await db.sql(
                    "SELECT string_agg(version || ':' || name, ',' ORDER BY version) FROM shipit_schema_migrations")
                    == "1:create_visits,2:visits_add_path")
            #expect(
                try await db.sql(
                    "SELECT count(*) FROM information_schema.columns WHERE table_schema = '\(db.schema)' AND table_name = 'visits' AND column_name = 'path'"
                ) == "1")

            // v4 drops a column v2 reads: refused without the flag, nothing changed.
            let refused = try await f.shipit(["deploy", "--from", f.release("v4")])
            #expect(refused.status == ShipitExit.preflightFailed.rawValue)
            #expect(refused.stdout.contains("db/migrations/0003_visits_drop_at.sql:3: drop-column"))
            #expect(refused.stdout.contains("--allow-contract"))
            #expect(try await db.sql("SELECT count(*) FROM shipit_schema_migrations") == "2")
            for h in f.targets { #expect(try await f.served(h) == "hello from releases-example v2") }

            let allowed = try await f.shipit(["deploy", "--from", f.release("v4"), "--allow-contract"])
            #expect(allowed.status == 0, "\(allowed.stdout)")
            #expect(
                try await db.sql(
                    "SELECT count(*) FROM information_schema.columns WHERE table_schema = '\(db.schema)' AND table_name = 'visits' AND column_name = 'at'"
                ) == "0")
            let t = try ShipitBinary.decode(
                Timeline.self, try await f.shipit(["changes", "--json", "--no-hosts"]).stdout)
            #expect(
                t.entries.map(\.migrations) == [
                    [], ["0001_create_visits (expand)", "0002_visits_add_path (expand)"], [],
                    ["0003_visits_drop_at (contract)"],
                ])

            // Going back to v2 would run old code against the contracted schema.
            let back = try await f.shipit(["rollback"])
            #expect(back.status != 0)
            #expect(back.stdout.contains("0003_visits_drop_at"))
            #expect(back.stdout.contains("Fix forward"))
            for h in f.targets { #expect(try await f.served(h) == "hello from releases-example v4") }
            let forced = try await f.shipit(["rollback", "--force"])
            #expect(forced.status == 0, "\(forced.stdout)")
            for h in f.targets { #expect(try await f.served(h) == "hello from releases-example v2") }
        }
    }

    @Test func driftIsDetectedInPreflightWithNothingChanged() async throws {
        let (f, db) = try await fixture()
        try await withCleanup({ await f.cleanUp() }) {
            #expect(try await f.shipit(["deploy", "--from", f.release("v2")]).status == 0)
            let before = try await f.currentRelease(f.targets[0])

            let healthy = try ShipitBinary.decode(TriageReport.self, try await f.shipit(["triage", "--json"]).stdout)
            #expect(healthy.firstFailingLayer == nil, "\(healthy.findings)")

            try await db.sql("UPDATE shipit_schema_migrations SET checksum = 'edited' WHERE version = 1")
            // triage sees the drift too, in the schema layer.
            let triage = try ShipitBinary.decode(TriageReport.self, try await f.shipit(["triage", "--json"]).stdout)
            #expect(triage.firstFailingLayer == .schema)
            #expect(
                triage.findings.contains {
                    $0.layer == .schema && $0.detail.contains("0001_create_visits.sql changed after it was applied")
                })
            let edited = try await f.shipit(["deploy", "--from", f.release("v3")])
            #expect(edited.status == ShipitExit.preflightFailed.rawValue, "\(edited.stdout)")
            #expect(edited.stdout.contains("0001_create_visits.sql changed after it was applied"))

            try await db.sql(
                "UPDATE shipit_schema_migrations SET checksum = (SELECT checksum FROM shipit_schema_migrations WHERE version = 2) WHERE version = 1"
            )
            try await db.sql("DELETE FROM shipit_schema_migrations WHERE version = 1")
            try await db.sql(
                "INSERT INTO shipit_schema_migrations (version, name, checksum, release_id) VALUES (99, 'ghost', 'x', 'r')"
            )
            let unknown = try await f.shipit(["deploy", "--from", f.release("v2")])
            #expect(unknown.status == ShipitExit.preflightFailed.rawValue)
            #expect(unknown.stdout.contains("unknown version 99"))
            for h in f.targets { #expect(try await f.currentRelease(h) == before) }
            #expect(try await f.sh(f.targets[0], "ls \(f.deployTo)/releases | wc -l") == "1\n")
        }
    }

    @Test func aSyntaxErrorAbortsBeforeTheSwitch() async throws {
        let (f, db) = try await fixture()
        try await withCleanup({ await f.cleanUp() }) {
            #expect(try await f.shipit(["deploy", "--from", f.release("v2")]).status == 0)
            let before = try await f.currentRelease(f.targets[0])
            let broken = Local.tempDir("broken")
            try await Local.run(["cp", "-a", f.release("v2") + "/.", broken])
            try "-- a typo\nCREATE TABL oops (id int);\n".write(
                toFile: broken + "/db/migrations/0003_typo.sql", atomically: true, encoding: .utf8)
            let r = try await f.shipit(["deploy", "--from", broken])
            #expect(r.status == ShipitExit.failure.rawValue, "\(r.stdout)")
            #expect(r.stdout.contains("migration 0003_typo failed"))
            #expect(r.stdout.contains("0003_typo.sql:2"))  // psql names file and line
            for h in f.targets {
                #expect(try await f.currentRelease(h) == before)
                #expect(try await f.served(h) == "hello from releases-example v2")
            }
            #expect(try await db.sql("SELECT max(version) FROM shipit_schema_migrations") == "2")
            // DATABASE_URL carries the password: never in the output or the ledger.
            #expect(!r.stdout.contains(db.password) && !r.stderr.contains(db.password))
            let ledger = try Data(contentsOf: URL(fileURLWithPath: f.dir + "/.shipit/ledger.sqlite"))
            #expect(ledger.range(of: Data(db.password.utf8)) == nil)
            let t = try ShipitBinary.decode(
                Timeline.self, try await f.shipit(["changes", "--json", "--no-hosts"]).stdout)
            #expect(t.entries.last?.outcome == "failed")
            #expect(t.entries.last?.error?.contains("0003_typo") == true)
        }
    }

    /// DATABASE_URL as a secret of the release (no env_file): the migrations connect with the
    /// value the deploy resolved, and `migrations status` afterwards with the serving release's.
    @Test func aDatabaseURLSecretReplacesTheEnvFile() async throws {
        let db = try DB()
        try await db.sql("CREATE SCHEMA \(db.schema)")
        let f = try DeployFixture(
            extraYAML: "migrations:\n  dir: db/migrations\nsecrets:\n  DATABASE_URL: {env: SHIPIT_TEST_DB_URL}")
        try await withCleanup({ await f.cleanUp() }) {
            let env = ProcessInfo.processInfo.environment.merging(["SHIPIT_TEST_DB_URL": db.url]) { $1 }
            let deploy = try await bin.run(
                config: f.configFile, ["deploy", "--from", f.release("v2")], environment: env)
            #expect(deploy.status == 0, "\(deploy.stdout)\(deploy.stderr)")
            #expect(try await db.sql("SELECT max(version) FROM shipit_schema_migrations") == "2")
            let status = try await bin.run(config: f.configFile, ["migrations", "status"], environment: env)
            #expect(status.status == 0, "\(status.stdout)\(status.stderr)")
            #expect(status.stdout.contains("0002"), "\(status.stdout)")
            #expect(!(deploy.stdout + deploy.stderr + status.stdout + status.stderr).contains(db.password))
        }
    }

    @Test func imageDeploysRunTheMigrationsTheImageCarries() async throws {
        let db = try DB()
        try await db.sql("CREATE SCHEMA \(db.schema)")
        let envFile = "/srv/mig-img-\(UUID().uuidString.prefix(6)).env"
        let f = try ImageFixture(extraYAML: "migrations:\n  dir: db/migrations\n  env_file: \(envFile)")
        try await withCleanup({ await f.cleanUp() }) {
            _ = try await f.podman(
                f.targets[0], "true; umask 077; printf 'DATABASE_URL=%s\\n' '\(db.url)' > \(envFile)")
            let r = try await bin.run(["deploy", "--config", f.configFile, "--tag", "v2"])
            #expect(r.status == 0, "\(r.stdout)")
            #expect(
                try await db.sql("SELECT string_agg(name, ',' ORDER BY version) FROM shipit_schema_migrations")
                    == "create_visits,visits_add_path")
            let t = try ShipitBinary.decode(
                Timeline.self, try await bin.run(["changes", "--config", f.configFile, "--json", "--no-hosts"]).stdout)
            #expect(t.entries.last?.migrations == ["0001_create_visits (expand)", "0002_visits_add_path (expand)"])
            #expect(t.entries.last?.imageDigest?.hasPrefix("sha256:") == true)
        }
    }

    @Test func migrationsCheckIsACIStep() async throws {
        let root = TestHosts.current.repoRoot + "/releases-example"
        let ok = try await bin.run(["migrations", "check", "--from", root + "/v2"])
        #expect(ok.status == 0)
        #expect(ok.stdout.contains("rollback-safe"))
        let bad = try await bin.run(["migrations", "check", "--from", root + "/v4", "--json"])
        #expect(bad.status == ShipitExit.preflightFailed.rawValue)
        struct Out: Decodable {
            let rollbackSafe: Bool
            let files: [MigrationSet.File]
        }
        let out = try ShipitBinary.decode(Out.self, bad.stdout)
        #expect(!out.rollbackSafe)
        #expect(out.files.last?.findings.first?.line == 3)
    }
}
