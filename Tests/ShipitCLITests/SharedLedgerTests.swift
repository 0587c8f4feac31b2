import Foundation
import ShipitCore
import TestSupport
import Testing

/// The PostgreSQL ledger as a team uses it: several shipit processes, one ledger and one run lock.
@Suite("shared PostgreSQL ledger against real sshd hosts")
struct SharedLedgerTests {
    let bin = ShipitBinary()

    func sharedFixture() throws -> (DeployFixture, String) {
        let schema = "t_" + UUID().uuidString.prefix(10).lowercased().replacingOccurrences(of: "-", with: "")
        let t = TestStore.pgTarget
        let url = "postgres://\(t.user)@\(t.host):\(t.port)/\(t.database)?schema=\(schema)"
        let f = try DeployFixture(extraYAML: "ledger:\n  url: \(url)\n  password_file: \(t.passwordFile!)")
        return (f, url)
    }

    @Test func twoRunsAtOnceTheSecondFailsNamingTheHolderOrWaits() async throws {
        let (f, _) = try sharedFixture()
        try await withCleanup({ await f.cleanUp() }) {
            // The first run parks in its pre-switch hook (holding the run lock) until the test says go.
            let (entered, go) = try f.parkingHook("pre-switch")

            let first = bin.start(["deploy", "--config", f.configFile, "--from", f.release("v1")])
            try first.run()
            try await DeployFixture.waitForFile(entered)

            let refused = try await bin.run(["deploy", "--config", f.configFile, "--from", f.release("v2")])
            #expect(refused.status == ShipitExit.locked.rawValue, "\(refused.stdout)")
            #expect(refused.stdout.contains("shared ledger"))
            #expect(refused.stdout.contains("@"))  // user@machine of the holder

            let waiter = bin.start(["deploy", "--config", f.configFile, "--from", f.release("v2"), "--lock-wait", "60"])
            try waiter.run()
            try await Task.sleep(for: .milliseconds(500))
            FileManager.default.createFile(atPath: go, contents: nil)
            let firstStatus = await ShipitBinary.wait(first)
            let waiterStatus = await ShipitBinary.wait(waiter)
            #expect(firstStatus == 0)
            #expect(waiterStatus == 0)
            for h in f.targets { #expect(try await f.served(h) == "hello from releases-example v2") }

            let t = try ShipitBinary.decode(
                Timeline.self, try await bin.run(["changes", "--config", f.configFile, "--json", "--no-hosts"]).stdout)
            #expect(t.ledgerStatus == "ok")
            #expect(t.entries.map(\.outcome).sorted() == ["failed", "succeeded", "succeeded"])
            #expect(t.entries.first { $0.outcome == "failed" }?.error?.contains("lock") == true)
        }
    }

    @Test func copyFromSQLitePreservesEveryAttemptAndStepIdempotently() async throws {
        let f = try DeployFixture()
        try await withCleanup({ await f.cleanUp() }) {
            #expect(try await bin.run(["deploy", "--config", f.configFile, "--from", f.release("v1")]).status == 0)
            #expect(
                try await bin.run(["deploy", "--config", f.configFile, "--from", f.release("v3")]).status
                    == ShipitExit.rolledBack.rawValue)
            let sqlitePath = f.dir + "/.shipit/ledger.sqlite"
            var target = TestStore.pgTarget
            target.schema = "t_" + UUID().uuidString.prefix(10).lowercased().replacingOccurrences(of: "-", with: "")
            let url =
                "postgres://\(target.user)@\(target.host):\(target.port)/\(target.database)?schema=\(target.schema)"
            let args = [
                "ledger", "migrate", "--from", "sqlite:\(sqlitePath)", "--to", url, "--password-file",
                target.passwordFile!,
            ]

            // The key secrets' fingerprints were keyed with goes along.
            let key = try await SQLiteLedger(path: sqlitePath, create: false).fingerprintKey()
            let once = try await bin.run(args)
            #expect(once.status == 0, "\(once.stderr)")
            #expect(once.stdout.contains("copied 2 attempt(s)"))
            #expect(once.stdout.contains("copied the fingerprint key"), "\(once.stdout)")
            let twice = try await bin.run(args)
            #expect(
                twice.stdout.contains("copied 0 attempt(s) with 0 step(s)") && twice.stdout.contains("2 already there"))

            let source = try SQLiteLedger(path: sqlitePath, create: false)
            let dest = try await PostgresLedger.connect(target)
            let a = try await source.attempts(LedgerQuery())
            let b = try await dest.attempts(LedgerQuery())
            #expect(a == b)
            #expect(try await dest.fingerprintKey() == key)
            for attempt in a {
                let sa = try await source.steps(attemptID: attempt.id).map {
                    [$0.host ?? "-", $0.step, $0.status, $0.message ?? ""]
                }
                let sb = try await dest.steps(attemptID: attempt.id).map {
                    [$0.host ?? "-", $0.step, $0.status, $0.message ?? ""]
                }
                #expect(sa == sb)
                #expect(!sa.isEmpty)
            }
            await dest.close()
        }
    }

    @Test func anUnreachableSharedLedgerRefusesDeploysAndReadersFallBackToHosts() async throws {
        let f = try DeployFixture(
            extraYAML:
                "ledger:\n  url: postgres://shipit@127.0.0.1:1/shipit\n  password_file: \(TestStore.pgTarget.passwordFile!)"
        )
        try await withCleanup({ await f.cleanUp() }) {
            let deploy = try await bin.run(["deploy", "--config", f.configFile, "--from", f.release("v1")])
            #expect(deploy.status == ShipitExit.failure.rawValue)
            #expect(deploy.stderr.contains("unreachable"))
            for h in f.targets { #expect(try await f.currentRelease(h) == "") }  // nothing touched

            let changes = try await bin.run(["changes", "--config", f.configFile, "--json"])
            let t = try ShipitBinary.decode(Timeline.self, changes.stdout)
            #expect(t.ledgerStatus.hasPrefix("unreachable"))
            #expect(t.notes.contains { $0.contains("hosts' history alone") })
        }
    }
}
