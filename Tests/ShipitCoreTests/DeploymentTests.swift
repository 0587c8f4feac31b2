import Foundation
import ShipitCore
import TestSupport
import Testing

/// The orchestration over a fake transport: which steps run on which hosts, in which order, and
/// where every host ends up. Real hosts are covered by SymlinkDeployTests.
@Suite("deployment orchestration (fake transport)")
struct DeploymentTests {
    let hosts = ["h1", "h2", "h3"]

    func config(health: Bool = true) throws -> DeployConfig {
        let dir = Local.tempDir("fake-deploy")
        try """
        app: fake
        hosts: [h1, h2, h3]
        deploy_to: /srv/fake
        start: sh start.sh
        \(health ? "health: {port: 8080, deadline: 0.2, interval: 0.01}" : "")
        hooks: \(dir)/hooks
        """.write(toFile: dir + "/shipit.yml", atomically: true, encoding: .utf8)
        return try DeployConfig.load(file: dir + "/shipit.yml")
    }

    func artifact() async throws -> Artifact {
        let src = Local.tempDir("fake-src")
        try "v".write(toFile: src + "/VERSION", atomically: true, encoding: .utf8)
        return try await Local.offPool { try Artifact.build(from: .directory(src), workDir: Local.tempDir("fake-art")) }
    }

    func deploy(_ t: FakeTransport, interrupt: InterruptFlag = InterruptFlag(), ledger: Ledger? = nil) async throws -> (
        DeployReport, Artifact
    ) {
        let a = try await artifact()
        let d = Deployment(config: try config(), transport: t, interrupt: interrupt, ledger: ledger, notify: { _ in })
        return (await d.deploy(a), a)
    }

    @Test func happyPathRunsEachStepOncePerHostInOrder() async throws {
        let t = FakeTransport(hosts: hosts, current: "r0")
        let (r, a) = try await deploy(t)
        #expect(r.phase == .succeeded)
        for h in hosts {
            #expect(t.steps(h) == ["preflight", "upload", "extract", "switch", "probe", "probe", "finish"])
            #expect(t.currentRelease(h) == a.releaseID)
        }
        #expect(r.hosts.allSatisfy { $0.previous == "r0" })
    }

    @Test func aPreflightFailureSwitchesNoHostAndLeavesNothingStaged() async throws {
        let t = FakeTransport(hosts: hosts, current: "r0")
        t.failing = ["h2": ["preflight"]]
        let (r, _) = try await deploy(t)
        #expect(r.phase == .failed)
        #expect(r.exitCode == .preflightFailed)
        for h in hosts {
            #expect(!t.steps(h).contains("switch"))
            #expect(t.currentRelease(h) == "r0")
        }
        // The artifact rides on the pre-flight's channel: the hosts that passed took it, and the
        // closing script removes it there (a release never switched to) and unlocks. The host that
        // failed never took the lock, nor the file.
        #expect(t.steps("h1") == ["preflight", "upload", "extract", "abandon"] && t.steps("h3").last == "abandon")
        #expect(t.steps("h2") == ["preflight"])
    }

    @Test func anUploadFailureSwitchesNothingAndCleansEveryHost() async throws {
        let t = FakeTransport(hosts: hosts, current: "r0")
        t.failing = ["h3": ["upload"]]
        let (r, _) = try await deploy(t)
        // The artifact rides on the pre-flight's channel (streamed): its failure is the pre-flight's.
        #expect(r.phase == .failed && r.failedIn == .preflight)
        for h in hosts {
            #expect(!t.steps(h).contains("switch"))
            #expect(t.steps(h).last == "abandon")
            #expect(t.currentRelease(h) == "r0")
        }
    }

    @Test func aSmokeTestFailingOnOneHostRollsBackEveryHost() async throws {
        let t = FakeTransport(hosts: hosts, current: "r0")
        let a = try await artifact()
        t.unhealthy = [a.releaseID]
        t.unhealthyHosts = ["h2"]
        let r = await Deployment(config: try config(), transport: t, notify: { _ in }).deploy(a)
        #expect(r.phase == .rolledBack)
        #expect(r.exitCode == .rolledBack)
        #expect(r.hosts.first { $0.host == "h2" }?.failedStep == "smoke test")
        for h in hosts {
            #expect(t.currentRelease(h) == "r0")
            #expect(t.steps(h).filter { $0 == "switch" }.count == 2)  // forward, then back
            #expect(t.steps(h).last == "abandon")  // failed release kept and marked, lock released
        }
    }

    @Test func aFailedSwitchOnOneHostRollsBackTheOthers() async throws {
        let t = FakeTransport(hosts: hosts, current: "r0")
        t.failing = ["h1": ["switch"]]
        let (r, _) = try await deploy(t)
        #expect(r.phase == .rolledBack)
        for h in hosts { #expect(t.currentRelease(h) == "r0") }
        #expect(t.steps("h1").filter { $0 == "switch" }.count == 1)  // it never switched: nothing to undo
    }

    @Test func noRollbackLeavesHostsOnTheNewRelease() async throws {
        let t = FakeTransport(hosts: hosts, current: "r0")
        let a = try await artifact()
        t.unhealthy = [a.releaseID]
        var options = Deployment.Options()
        options.autoRollback = false
        let r = await Deployment(config: try config(), transport: t, options: options, notify: { _ in }).deploy(a)
        #expect(r.phase == .failed)
        for h in hosts { #expect(t.currentRelease(h) == a.releaseID) }
    }

    @Test func anInterruptDuringUploadStartsNoNewStep() async throws {
        let t = FakeTransport(hosts: hosts, current: "r0")
        let flag = InterruptFlag()
        t.onStep = { _, step in if step == "upload" { flag.raise() } }
        let (r, _) = try await deploy(t, interrupt: flag)
        #expect(r.exitCode == .interrupted)
        for h in hosts {
            #expect(!t.steps(h).contains("switch"))
            #expect(t.steps(h).last == "abandon")
            #expect(t.currentRelease(h) == "r0")
        }
    }

    @Test func everyStepIsInTheLedgerWithTheFinalOutcome() async throws {
        let ledger = try SQLiteLedger(path: Local.tempDir("fake-ledger") + "/l.sqlite")
        let t = FakeTransport(hosts: hosts, current: "r0")
        t.failing = ["h2": ["switch"]]
        let (r, a) = try await deploy(t, ledger: ledger)
        let id = try #require(r.attemptID)
        let attempt = try #require(try await ledger.attempt(id))
        #expect(attempt.outcome == .rolledBack)
        #expect(attempt.releaseID == a.releaseID)
        #expect(attempt.error?.contains("h2 failed at switch") == true)
        #expect(attempt.hosts.map(\.previous) == ["r0", "r0", "r0"])
        let steps = try await ledger.steps(attemptID: id)
        #expect(!steps.contains { $0.status == "running" })
        let h2 = steps.filter { $0.host == "h2" }.map { "\($0.step):\($0.status)" }
        #expect(h2.starts(with: ["preflight:ok", "upload:ok", "switch:failed"]))
        let states = steps.filter { $0.step == "state" }.compactMap(\.message)
        #expect(
            states == [
                "pending → preflight", "preflight → upload", "upload → migrate", "migrate → switch",
                "switch → rollingBack", "rollingBack → rolledBack",
            ])
    }

    @Test func rollbackPicksTheNewestGoodReleasePresentEverywhere() async throws {
        let t = FakeTransport(hosts: hosts, current: "r3", releases: ["r1", "r2"])
        let r = await Deployment(config: try config(), transport: t, notify: { _ in }).rollback(to: nil)
        #expect(r.phase == .succeeded)
        #expect(r.releaseID == "r2")
        for h in hosts { #expect(t.currentRelease(h) == "r2") }

        // --to a release one host lacks: refused before any switch.
        let t2 = FakeTransport(hosts: hosts, current: "r3", releases: ["r1"])
        let r2 = await Deployment(config: try config(), transport: t2, notify: { _ in }).rollback(to: "r9")
        #expect(r2.phase == .failed)
        #expect(r2.hosts.first?.error?.contains("r9 is not on h1, h2, h3") == true)
        for h in hosts { #expect(!t2.steps(h).contains("switch")) }
    }

    @Test func aConnectionLostMidSwitchLeavesThatHostUnknownAndRollsBackTheRest() async throws {
        let ledger = try SQLiteLedger(path: Local.tempDir("fake-ledger") + "/l.sqlite")
        let t = FakeTransport(hosts: hosts, current: "r0")
        t.dropAfter = ["h2": "switch"]  // h2 switched, but shipit never heard back
        let (r, a) = try await deploy(t, ledger: ledger)
        #expect(r.phase == .rollbackFailed)
        #expect(r.exitCode == .rollbackFailed)
        #expect(t.currentRelease("h1") == "r0" && t.currentRelease("h3") == "r0")
        #expect(t.currentRelease("h2") == a.releaseID)  // what really happened there
        let h2 = try #require(r.hosts.first { $0.host == "h2" })
        #expect(h2.switchingTo == a.releaseID)
        #expect(h2.error?.contains("outcome unknown: on r0 or \(a.releaseID)") == true)
        let id = try #require(r.attemptID)
        let attempt = try #require(try await ledger.attempt(id))
        #expect(attempt.outcome == .rollbackFailed)
        #expect(attempt.hosts.first { $0.host == "h2" }?.status == "unknown")
    }

    @Test func rollbackOfASplitFleetBringsEveryHostToTheOldestRunningRelease() async throws {
        // A run died mid-switch: h1 is on r2, h2 and h3 still on r1; r0 is older.
        let t = FakeTransport(hosts: hosts, current: "r1", releases: ["r0", "r2"])
        t.setCurrent("h1", "r2")
        let r = await Deployment(config: try config(), transport: t, notify: { _ in }).rollback(to: nil)
        #expect(r.phase == .succeeded)
        #expect(r.releaseID == "r1")
        for h in hosts { #expect(t.currentRelease(h) == "r1") }
        // Only h1 moved: the hosts already on r1 were checked, not switched and restarted.
        #expect(t.steps("h1").contains("switch"))
        for h in ["h2", "h3"] { #expect(!t.steps(h).contains("switch"), "\(h): \(t.steps(h))") }
    }

    @Test func aRollbackToTheReleaseEveryHostRunsSwitchesNothing() async throws {
        let t = FakeTransport(hosts: hosts, current: "r2", releases: ["r1"])
        final class Notes: @unchecked Sendable {
            let lock = NSLock()
            var all: [String] = []
            func add(_ s: String) {
                lock.lock()
                all.append(s)
                lock.unlock()
            }
        }
        let seen = Notes()
        let r = await Deployment(config: try config(), transport: t, notify: { seen.add($0.message) }).rollback(
            to: "r2")
        let notes = seen.lock.withLock { seen.all }
        #expect(r.phase == .succeeded)
        for h in hosts {
            #expect(t.currentRelease(h) == "r2")
            #expect(!t.steps(h).contains("switch"), "\(h): \(t.steps(h))")
        }
        #expect(notes.contains { $0.contains("r2 already serves on every host") }, "\(notes)")
    }
}
