import Foundation
import ShipitCore
import TestSupport
import Testing

/// sshd killed on one host while a deploy runs (issue 9, case 1): during the upload, during the
/// switch, during the smoke test. The killed host is one of the test's own (127.0.0.45–47), next to
/// the shared hosts; its /srv and its app survive (only sshd dies), so afterwards the test can
/// look at what really happened there and bring the fleet back together.
@Suite("faults: sshd killed mid-deploy")
struct FaultHostLossTests {
    let bin = ShipitBinary()
    let hosts = TestHosts.current

    /// A fixture over the shared hosts plus `lost`, with v1 deployed everywhere.
    func fleet(with lost: String, healthDeadline: Double = 2, checkFromHost: Bool = false) async throws -> DeployFixture
    {
        try await hosts.harness(["start-host", lost], environment: [:])
        let f = try DeployFixture(
            targets: hosts.hosts + [lost], healthDeadline: healthDeadline, checkFromHost: checkFromHost)
        let v1 = try await f.shipit(["deploy", "--from", f.release("v1")])
        #expect(v1.status == 0, "\(v1.stdout)")
        return f
    }

    func tearDown(_ f: DeployFixture, _ lost: String) async {
        _ = try? await hosts.reviveHost(lost)
        _ = try? await f.sh(
            lost,
            "[ -f \(f.deployTo)/shared/app.pid ] && kill $(cat \(f.deployTo)/shared/app.pid); rm -rf \(f.deployTo)")
        await f.cleanUp()
        _ = try? await hosts.harness(["stop-host", lost], environment: [:])
    }

    /// The newest attempt as `changes --json` reports it.
    func lastEntry(_ f: DeployFixture) async throws -> Timeline.Entry {
        let t = try ShipitBinary.decode(Timeline.self, try await f.shipit(["changes", "--json", "--no-hosts"]).stdout)
        return try #require(t.entries.last)
    }

    /// After a lost host made the rollback fail: the others serve v1 with no lock; the ledger's
    /// attempt and the lost host's recorded state.
    func othersRolledBack(_ f: DeployFixture, lost: String) async throws -> (Timeline.Entry, LedgerHostState) {
        for h in hosts.hosts {
            #expect(try await f.served(h) == "hello from releases-example v1")
            #expect(try await f.lockHolder(h) == "free")
        }
        let e = try await lastEntry(f)
        #expect(e.outcome == "rollback-failed")
        return (e, try #require(e.hosts.first { $0.host == lost }))
    }

    @Test func duringUploadNothingSwitchesAndTheNextDeployTakesOverTheLock() async throws {
        let lost = "127.0.0.45"
        let f = try await fleet(with: lost)
        // Big (incompressible) so the upload is still going when sshd dies.
        let big = try await f.bigRelease("v2", bytes: 40_000_000)

        let p = bin.start(["deploy", "--config", f.configFile, "--from", big])
        let pipe = p.standardOutput as! Pipe
        try p.run()
        // Killed as the upload phase starts: the 40 MB transfer takes far longer than the kill.
        var out = await ShipitBinary.read(pipe, until: ["state: preflight → upload"], timeout: 120)
        let killedAt = Date()
        let killed = try await hosts.killHost(lost)
        out += await ShipitBinary.read(pipe, until: [])
        let status = await ShipitBinary.wait(p)
        #expect(status == ShipitExit.failure.rawValue, "killed at \(killedAt): \(killed)\n\(out)")
        #expect(out.contains("FAILED in upload"), "\(out)")
        #expect(out.contains(lost))

        for h in hosts.hosts {
            #expect(try await f.served(h) == "hello from releases-example v1")
            #expect(try await f.lockHolder(h) == "free")
            let left = try await f.leftovers(h)
            #expect(left == "", "\(h)\n\(out)")
        }
        let e = try await lastEntry(f)
        #expect(e.outcome == "failed")
        let lostState = try #require(e.hosts.first { $0.host == lost })
        #expect(lostState.step == "upload" && lostState.status == "failed")
        #expect(lostState.current == (try await f.currentRelease(hosts.hosts[0])))

        // sshd back: the host still runs v1, complete; the lost run's lock is reported stale and
        // the next deploy takes it over and clears the partial upload.
        try await hosts.reviveHost(lost)
        #expect(try await f.served(lost) == "hello from releases-example v1")
        #expect(try await f.lockHolder(lost) == e.attempt)
        #expect(try await f.shipit(["verify"]).status == 0)
        let status2 = try await f.shipit(["status"])
        #expect(status2.stdout.contains("stale"), "\(status2.stdout)")
        let next = try await f.shipit(["deploy", "--from", f.release("v2")])
        #expect(next.status == 0, "\(next.stdout)")
        #expect(next.stdout.contains("took over the lock left by attempt \(e.attempt)"))
        for h in f.targets {
            #expect(try await f.served(h) == "hello from releases-example v2")
            let left = try await f.leftovers(h)
            #expect(left == "", "\(h)\n\(next.stdout)")
        }
        await tearDown(f, lost)
    }

    @Test func duringTheSwitchTheHostIsUnknownUntilRollbackBringsEveryHostBack() async throws {
        let lost = "127.0.0.46"
        let f = try await fleet(with: lost)
        let gated = try await GatedRelease(from: f.release("v2"), mode: .parkStart, hosts: [lost])
        let p = bin.start(["deploy", "--config", f.configFile, "--from", gated.path])
        try p.run()
        // `current` moved on the lost host and its start command is running when sshd dies.
        try await gated.waitEntered([lost])
        try await hosts.killHost(lost)
        gated.open()
        let (status, out) = await ShipitBinary.finish(p)
        #expect(status == ShipitExit.rollbackFailed.rawValue, "\(out)")
        #expect(out.contains("UNKNOWN"), "\(out)")
        let (e, lostState) = try await othersRolledBack(f, lost: lost)
        #expect(lostState.status == "unknown", "\(lostState)")
        #expect(lostState.error?.contains("outcome unknown") == true)

        // What really happened: the switch went through and the start finished after the gate.
        try await hosts.reviveHost(lost)
        let gatedID = try await f.currentRelease(lost)
        #expect(gatedID != (try await f.currentRelease(hosts.hosts[0])))
        let drift = try await f.shipit(["status"])
        #expect(drift.status == ShipitExit.unhealthy.rawValue, "\(drift.stdout)")
        #expect(drift.stdout.contains("DRIFT"))
        let back = try await f.shipit(["rollback"])
        #expect(back.status == 0, "\(back.stdout)")
        #expect(back.stdout.contains("took over the lock left by attempt \(e.attempt)"))
        for h in f.targets {
            #expect(try await f.served(h) == "hello from releases-example v1")
            #expect(try await f.lockHolder(h) == "free")
        }
        #expect(try await f.shipit(["status"]).status == 0)
        #expect(try await f.shipit(["verify"]).status == 0)
        await tearDown(f, lost)
    }

    @Test func duringTheSmokeTestEveryOtherHostIsRolledBack() async throws {
        let lost = "127.0.0.47"
        // A long deadline: only the lost connection can end this smoke test early. Checked from
        // the host (through its SSH session): from the deployer, the app that outlives its sshd
        // answers, and the deploy rightly succeeds.
        let f = try await fleet(with: lost, healthDeadline: 120, checkFromHost: true)
        let gated = try await GatedRelease(from: f.release("v2"), mode: .notReady)
        let p = bin.start(["deploy", "--config", f.configFile, "--from", gated.path])
        try p.run()
        try await gated.waitEntered(f.targets)
        try await Task.sleep(for: .milliseconds(300))  // the smoke test is polling /health/ready
        try await hosts.killHost(lost)
        try await Task.sleep(for: .milliseconds(300))
        gated.open()
        let (status, out) = await ShipitBinary.finish(p)
        #expect(status == ShipitExit.rollbackFailed.rawValue, "\(out)")
        #expect(out.contains("smoke test"), "\(out)")
        let (e, lostState) = try await othersRolledBack(f, lost: lost)
        #expect(lostState.current != e.hosts[0].current, "the ledger says where the lost host really is")
        // The lost host's smoke test ended on the lost connection, not on its (long) deadline.
        let ledger = try SQLiteLedger(path: f.dir + "/.shipit/ledger.sqlite")
        let smoke = try await ledger.steps(attemptID: e.attempt).first { $0.host == lost && $0.step == "smoke test" }
        #expect(smoke?.message?.contains("unreachable") == true, "\(String(describing: smoke))")

        try await hosts.reviveHost(lost)
        #expect(try await f.currentRelease(lost) == lostState.current)
        let back = try await f.shipit(["rollback"])
        #expect(back.status == 0, "\(back.stdout)")
        for h in f.targets { #expect(try await f.served(h) == "hello from releases-example v1") }
        #expect(try await f.shipit(["status"]).status == 0)
        await tearDown(f, lost)
    }
}
