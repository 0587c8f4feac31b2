import Foundation
import ShipitCore
import TestSupport
import Testing

/// The ledger commands, run as the built binary against the real test hosts.
@Suite("ledger commands against real sshd hosts")
struct LedgerCommandTests {
    let bin = ShipitBinary()

    /// The attempt id a deploy/rollback prints at the end.
    func attemptID(_ r: ShipitBinary.Run) -> String? {
        r.stdout.split(separator: "\n").first { $0.hasPrefix("attempt ") }.map { String($0.split(separator: " ")[1]) }
    }

    @Test func changesListsEveryAttemptFromTheLedgerAndFromHostsAlone() async throws {
        let f = try DeployFixture()
        try await withCleanup({ await f.cleanUp() }) {
            let runs = [
                try await f.shipit(["deploy", "--from", f.release("v1")]),
                try await f.shipit(["deploy", "--from", f.release("v2")]),
                try await f.shipit(["deploy", "--from", f.release("v3")]),
                try await f.shipit(["rollback"]),
            ]
            #expect(runs.map(\.status) == [0, 0, 4, 0], "\(runs.map(\.stdout))")
            let ids = runs.compactMap(attemptID)
            #expect(ids.count == 4)

            let withLedger = try await f.shipit(["changes", "--since", "1h", "--json"])
            #expect(withLedger.status == 0, "\(withLedger.stderr)")
            let t = try ShipitBinary.decode(Timeline.self, withLedger.stdout)
            #expect(t.ledgerStatus == "ok")
            #expect(t.entries.map(\.attempt) == ids)
            #expect(t.entries.map(\.operation) == ["deploy", "deploy", "deploy", "rollback"])
            #expect(t.entries.map(\.outcome) == ["succeeded", "succeeded", "rolled-back", "succeeded"])
            #expect(t.entries.allSatisfy { Set($0.hosts.map(\.host)) == Set(f.targets) })
            #expect(t.entries.allSatisfy { $0.origin == "ledger+hosts" })
            // The rollback went to v1; v2 changed three files against v1 (VERSION and two migrations); v3's error names the failed check.
            #expect(t.entries[3].release == t.entries[0].release)
            #expect(t.entries[1].changedCount == 3)
            #expect(
                t.entries[1].changedFiles == [
                    "A db/migrations/0001_create_visits.sql", "A db/migrations/0002_visits_add_path.sql", "M VERSION",
                ])
            #expect(t.entries[2].error?.contains("smoke test") == true)
            #expect(t.entries[2].hosts.allSatisfy { $0.current == t.entries[1].release })

            // The ledger is gone: the hosts' own history still tells the same story, and says so.
            try FileManager.default.removeItem(atPath: f.dir + "/.shipit")
            let fromHosts = try await f.shipit(["changes", "--since", "1h", "--json"])
            let h = try ShipitBinary.decode(Timeline.self, fromHosts.stdout)
            #expect(h.ledgerStatus == "missing")
            #expect(h.notes.contains { $0.contains("hosts' history alone") })
            #expect(h.entries.map(\.attempt) == ids)
            #expect(h.entries.map(\.outcome) == ["succeeded", "succeeded", "rolled-back", "succeeded"])
            #expect(h.entries.allSatisfy { $0.origin == "hosts" && Set($0.hosts.map(\.host)) == Set(f.targets) })
            let text = try await f.shipit(["changes", "--since", "1h", "--host", f.targets[0]])
            #expect(text.stdout.contains("ROLLED-BACK"))
            #expect(text.stdout.contains("from host history"))
        }
    }

    @Test func statusReportsDriftAfterAHostIsSwitchedByHand() async throws {
        let f = try DeployFixture()
        try await withCleanup({ await f.cleanUp() }) {
            let v1 = try await f.shipit(["deploy", "--from", f.release("v1")])
            #expect(try await f.shipit(["deploy", "--from", f.release("v2")]).status == 0)
            let clean = try await f.shipit(["status"])
            #expect(clean.status == 0, "\(clean.stdout)")
            #expect(clean.stdout.contains(": OK"))

            let v1ID = try #require(
                v1.stdout.range(of: #"deploy of (\S+) succeeded"#, options: .regularExpression).map {
                    String(v1.stdout[$0].split(separator: " ")[2])
                })
            _ = try await f.sh(
                f.targets[1], "cd \(f.deployTo) && ln -sfn releases/\(v1ID) current.tmp && mv -T current.tmp current")
            let drift = try await f.shipit(["status", "--json"])
            #expect(drift.status == ShipitExit.unhealthy.rawValue)
            struct Snapshot: Decodable {
                let hosts: [HostInspection]
                let verdict: FleetVerdict
            }
            let s = try ShipitBinary.decode(Snapshot.self, drift.stdout)
            #expect(s.verdict.drift)
            #expect(s.verdict.problems.contains { $0.contains("drift") && $0.contains(f.targets[1]) })
            #expect(s.hosts.first { $0.host == f.targets[1] }?.current == v1ID)
            #expect(try await f.shipit(["status"]).stdout.contains("DRIFT"))
        }
    }

    @Test func verifyFailsAfterAReleaseFileIsModifiedOnOneHost() async throws {
        let f = try DeployFixture()
        try await withCleanup({ await f.cleanUp() }) {
            #expect(try await f.shipit(["deploy", "--from", f.release("v1")]).status == 0)
            let ok = try await f.shipit(["verify"])
            #expect(ok.status == 0, "\(ok.stdout)")
            #expect(ok.stdout.contains("verify: OK"))

            _ = try await f.sh(f.targets[0], "echo '# hotfix by hand' >> \(f.deployTo)/current/app.pl")
            let bad = try await f.shipit(["verify", "--json"])
            #expect(bad.status == ShipitExit.unhealthy.rawValue)
            struct Snapshot: Decodable {
                let hosts: [HostInspection]
                let verdict: FleetVerdict
            }
            let s = try ShipitBinary.decode(Snapshot.self, bad.stdout)
            #expect(s.hosts[0].files?.status == "modified")
            #expect(s.hosts[0].files?.modified == ["./app.pl"])
            #expect(s.hosts.dropFirst().allSatisfy { $0.files?.status == "intact" })
            #expect(s.verdict.problems == ["\(f.targets[0]): release files modified: modified ./app.pl"])
        }
    }

    @Test func aKilledDeployIsReportedInterruptedByTheNextCommand() async throws {
        let f = try DeployFixture()
        try await withCleanup({ await f.cleanUp() }) {
            // A pre-switch hook that signals it is running, then waits: shipit is SIGKILLed there,
            // after the upload and before any switch.
            let marker = f.dir + "/hook-running"
            // Parked for long: under the whole suite's load this test's own polling can be starved
            // for tens of seconds, and the hook must still be running when shipit is killed.
            try f.writeHook("pre-switch", "echo $$ > \(marker)\nexec sleep 600\n")

            let p = bin.start(["deploy", "--config", f.configFile, "--from", f.release("v1")])
            try p.run()
            try await DeployFixture.waitForFile(marker, timeout: 120)
            #expect(FileManager.default.fileExists(atPath: marker), "the pre-switch hook never ran")
            try await Task.sleep(for: .milliseconds(100))
            p.stopIfRunning(SIGKILL)
            p.waitUntilExit()
            if let hookPid = Int32(
                (try? String(contentsOfFile: marker, encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines)
                    ?? "")
            {
                kill(hookPid, SIGKILL)
            }

            let r = try await f.shipit(["changes", "--since", "1h", "--json", "--no-hosts"])
            // The pre-switch hook runs after the migrate step (none here): that is where it died.
            #expect(r.stderr.contains("was interrupted in state migrate"), "\(r.stderr)")
            let t = try ShipitBinary.decode(Timeline.self, r.stdout)
            let e = try #require(t.entries.last)
            #expect(t.entries.count == 1)
            #expect(e.outcome == "interrupted")
            #expect(e.state == "migrate")
            #expect(e.hosts.count == f.targets.count)
            #expect(e.hosts.allSatisfy { $0.step == "upload" && $0.status == "ok" })
            // Nothing was switched; the killed run's lock is still there, and reported.
            for h in f.targets { #expect(try await f.currentRelease(h) == "") }
            let lock = try await f.shipit(["status"])
            #expect(lock.stdout.contains("held by"))
            #expect(lock.stdout.contains("stale"))

            // The next deploy takes over the dead run's lock (the ledger knows its process is gone).
            try FileManager.default.removeItem(atPath: f.dir + "/hooks/pre-switch")
            let next = try await f.shipit(["deploy", "--from", f.release("v1")])
            #expect(next.status == 0, "\(next.stdout)")
            #expect(next.stdout.contains("took over the lock left by attempt \(e.attempt)"))
        }
    }
}
