import Foundation
import ShipitCore
import TestSupport
import Testing

/// Two `shipit deploy` runs that share no run lock (each its own SQLite ledger, both knowing the
/// same run is over) start at once against one host whose lock that run left: one takes the lock
/// over, the other is refused by it (exit 6). Both holding it would be two deploys on one host.
@Suite("host lock: two runs with separate ledgers")
struct HostLockRaceTests {
    let bin = ShipitBinary()

    @Test func twoRunsWithSeparateLedgersTakeOverADeadRunsLockOneAtATime() async throws {
        let a = try DeployFixture(targets: [TestHosts.current.hosts[0]])
        let bDir = Local.tempDir("shipit-deploy-b")
        try await withCleanup({
            await a.cleanUp()
            try? FileManager.default.removeItem(atPath: bDir)
        }) {
            let first = try await a.shipit(["deploy", "--from", a.release("v1")])
            #expect(first.status == 0, "\(first.stdout)")
            let host = a.targets[0]
            // The lock of a run that is over (its ledger says so), left on the host.
            let ledger = try SQLiteLedger(path: a.dir + "/.shipit/ledger.sqlite", create: false)
            let dead = try #require(try await ledger.attempts(LedgerQuery()).last?.id)
            _ = try await a.sh(
                host, "printf 'holder=%s\\npid=1\\nby=gone@nowhere\\n' '\(dead)' > \(a.deployTo)/.shipit/lock")

            // B: the same app and hosts from another directory, with a copy of A's ledger.
            try await Local.run(["cp", "-a", a.dir + "/.shipit", bDir + "/.shipit"])
            let bConfig = bDir + "/shipit.yml"
            try String(contentsOfFile: a.configFile, encoding: .utf8).replacingOccurrences(of: a.dir, with: bDir)
                .write(toFile: bConfig, atomically: true, encoding: .utf8)
            // Each run parks in its pre-switch hook, holding the host's lock, until the test says go.
            let (aEntered, aGo) = try a.parkingHook("pre-switch")
            let bEntered = bDir + "/pre-switch.entered"
            let bGo = bDir + "/pre-switch.go"
            try FileManager.default.createDirectory(atPath: bDir + "/hooks", withIntermediateDirectories: true)
            try "#!/bin/sh\ntouch '\(bEntered)'\nwhile [ ! -f '\(bGo)' ]; do sleep 0.05; done\n".write(
                toFile: bDir + "/hooks/pre-switch", atomically: true, encoding: .utf8)
            try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: bDir + "/hooks/pre-switch")

            let runA = bin.start(["deploy", "--config", a.configFile, "--from", a.release("v2")])
            let runB = bin.start(["deploy", "--config", bConfig, "--from", a.release("v2")])
            try runA.run()
            try runB.run()
            // Until both hold the lock (the bug), or one holds it and the other has ended.
            let deadline = Date().addingTimeInterval(60)
            func entered(_ path: String) -> Bool { FileManager.default.fileExists(atPath: path) }
            while Date() < deadline {
                let inA = entered(aEntered)
                let inB = entered(bEntered)
                if (inA && inB) || (inA && !runB.isRunning) || (inB && !runA.isRunning)
                    || (!runA.isRunning && !runB.isRunning)
                {
                    break
                }
                try await Task.sleep(for: .milliseconds(50))
            }
            let holders = [entered(aEntered), entered(bEntered)].filter { $0 }.count
            FileManager.default.createFile(atPath: aGo, contents: nil)
            FileManager.default.createFile(atPath: bGo, contents: nil)
            let (statusA, outA) = await ShipitBinary.finish(runA)
            let (statusB, outB) = await ShipitBinary.finish(runB)
            #expect(holders == 1, "both runs held the host's lock:\n\(outA)\n---\n\(outB)")
            #expect(
                [statusA, statusB].sorted() == [0, ShipitExit.locked.rawValue],
                "A: \(statusA)\n\(outA)\n---\nB: \(statusB)\n\(outB)")
            #expect((statusA == 0 ? outB : outA).contains("lock held"), "\(outA)\n---\n\(outB)")
            // The dead run's lock was taken over; by the winner, or by the other run just before the
            // winner took the free lock (its removal and its own take are two steps).
            #expect((outA + outB).contains("took over the lock left by attempt \(dead)"), "\(outA)\n---\n\(outB)")
            #expect(try await a.lockHolder(host) == "free")
        }
    }
}
