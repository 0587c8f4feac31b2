import Foundation
import ShipitCore
import TestSupport
import Testing

@Suite("migration lint, discovery and drift")
struct MigrationLintTests {
    func rules(_ sql: String) -> [String] { MigrationLint.lint(file: "m.sql", sql: sql).map(\.rule) }

    @Test(arguments: [
        ("DROP TABLE users;", "drop-table"),
        ("ALTER TABLE users DROP COLUMN email;", "drop-column"),
        ("alter table users drop email;", "drop-column"),
        ("ALTER TABLE users RENAME COLUMN email TO mail;", "rename"),
        ("ALTER TABLE users RENAME TO people;", "rename"),
        ("ALTER TABLE users ALTER COLUMN age TYPE bigint;", "alter-type"),
        ("ALTER TABLE users ALTER COLUMN age SET DATA TYPE bigint;", "alter-type"),
        ("ALTER TABLE users ALTER COLUMN email SET NOT NULL;", "set-not-null"),
        ("ALTER TABLE users ADD COLUMN email text NOT NULL;", "add-column-not-null-without-default"),
        ("CREATE INDEX users_email ON users (email);", "create-index-without-concurrently"),
        ("CREATE UNIQUE INDEX users_email ON users (email);", "create-index-without-concurrently"),
        ("TRUNCATE users;", "truncate"),
        (
            "ALTER TABLE orders ADD CONSTRAINT orders_user FOREIGN KEY (user_id) REFERENCES users (id);",
            "add-constraint-validated"
        ),
        ("ALTER TABLE users ADD CONSTRAINT users_email_key UNIQUE (email);", "add-unique-or-primary-key"),
    ])
    func eachContractOrLockingRuleFires(sql: String, rule: String) {
        #expect(rules(sql) == [rule])
    }

    @Test func noFalsePositivesOnExpandForms() {
        let sql = """
            CREATE TABLE users (id bigserial PRIMARY KEY, email text NOT NULL);
            CREATE INDEX users_email ON users (email);           -- the table is new in this file
            ALTER TABLE orders ADD COLUMN note text;
            ALTER TABLE orders ADD COLUMN status text NOT NULL DEFAULT 'new';
            CREATE INDEX CONCURRENTLY orders_status ON orders (status);
            ALTER TABLE orders ADD CONSTRAINT orders_user FOREIGN KEY (user_id) REFERENCES users (id) NOT VALID;
            ALTER TABLE orders VALIDATE CONSTRAINT orders_user;
            ALTER TABLE orders ADD CONSTRAINT orders_note_len CHECK (length(note) < 500) NOT VALID;
            ALTER TABLE orders ALTER COLUMN note SET DEFAULT '';
            ALTER TABLE orders DROP CONSTRAINT IF EXISTS old_check;
            INSERT INTO settings (k, v) VALUES ('drop table', 'x; DROP TABLE users');
            UPDATE orders SET note = 'TRUNCATE' WHERE note IS NULL;
            CREATE FUNCTION f() RETURNS trigger AS $$ BEGIN DROP TABLE t; RETURN NULL; END $$ LANGUAGE plpgsql;
            /* ALTER TABLE users DROP COLUMN email; */
            """
        #expect(MigrationLint.lint(file: "ok.sql", sql: sql) == [])
    }

    @Test func findingsNameFileLineStatementAndAlternative() throws {
        let sql = "-- header\nCREATE TABLE a (id int);\n\nALTER TABLE users\n  DROP COLUMN email;\n"
        let f = try #require(MigrationLint.lint(file: "db/migrations/0003_x.sql", sql: sql).first)
        #expect(f.file == "db/migrations/0003_x.sql")
        #expect(f.line == 4)
        #expect(f.statement == "ALTER TABLE users   DROP COLUMN email")
        #expect(f.kind == .contract)
        #expect(f.alternative.contains("later"))
    }

    @Test func statementsSplitRespectingQuotesCommentsAndDollarQuotes() {
        let s = SQLStatements.split("SELECT ';';\n-- x; y\nSELECT $t$;$t$; /* ; */ SELECT \"a;b\"")
        #expect(s.map(\.text) == ["SELECT ';'", "SELECT $t$;$t$", "SELECT \"a;b\""])
        #expect(s.map(\.line) == [1, 3, 3])
    }

    @Test func releasesExampleV2IsExpandOnlyAndV4IsContract() throws {
        let root = TestHosts.current.repoRoot + "/releases-example"
        let v2 = try MigrationSet.load(root: root + "/v2", dir: "db/migrations")
        #expect(v2.files.map(\.label) == ["0001_create_visits", "0002_visits_add_path"])
        #expect(!v2.files.contains { $0.isContract })
        #expect(v2.files.map(\.needsNoTransaction) == [false, false])
        let v4 = try MigrationSet.load(root: root + "/v4", dir: "db/migrations")
        #expect(v4.files.last?.findings.map(\.rule) == ["drop-column"])
    }

    @Test func driftIsAnUnknownVersionAChangedChecksumOrAnOlderPendingFile() throws {
        let set = try MigrationSet.load(root: TestHosts.current.repoRoot + "/releases-example/v2", dir: "db/migrations")
        let ok = set.files.map { MigrationSet.Applied(version: $0.version, checksum: $0.checksum, name: $0.name) }
        #expect(set.drift(applied: ok) == [])
        #expect(set.pending(applied: Array(ok.prefix(1))).map(\.version) == [2])
        var edited = ok
        edited[0].checksum = "0000"
        #expect(set.drift(applied: edited).first?.contains("changed after it was applied") == true)
        #expect(
            set.drift(applied: ok + [.init(version: 99, checksum: "x", name: "ghost")]).first?.contains(
                "unknown version 99") == true)
        #expect(set.drift(applied: [ok[1]]).first?.contains("pending but older") == true)
        #expect(throws: ShipitError.self) {
            let dir = Local.tempDir("badmig")
            try FileManager.default.createDirectory(atPath: dir + "/m", withIntermediateDirectories: true)
            try "x".write(toFile: dir + "/m/add users.sql", atomically: true, encoding: .utf8)
            _ = try MigrationSet.load(root: dir, dir: "m")
        }
    }
}
