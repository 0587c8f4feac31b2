import Foundation
import ShipitCore
import TestSupport
import Testing

/// Request steps' fault cases: a deploy killed outright while its request step bakes leaves the
/// split in place with its lock; `rollout abort` picks up the dead run and sends every request
/// back, and the next deploy finds nothing left of it. A signal during the bake sends the share
/// back as its rollback.
@Suite("faults: request steps", .serialized)
struct FaultRequestStepTests {
    let hosts = TestHosts.current
    let bin = ShipitBinary()

    func fixture() throws -> DeployFixture {
        try DeployFixture(
            healthDeadline: 2,
            extraYAML: """
                traffic: {proxy: nginx, drain: 1}
                rollout:
                  steps: [{requests: 20%}, "100%"]
                  bake: 30
                """)
    }

    @Test func aDeployKilledDuringItsRequestStepIsAbortedAndEveryRequestGoesBack() async throws {
        let f = try fixture()
        try await withCleanup({ await f.cleanUp() }) {
            #expect(
                try await f.shipit(["deploy", "--from", f.release("v1"), "--steps", "100%", "--bake", "0"]).status == 0)
            let before = try await f.servingSlots()
            let load = try LoadGenerator(targets: f.targets, port: f.port, threads: 2, clients: 10)
            let p = bin.start(["deploy", "--config", f.configFile, "--from", f.release("v2")])
            try p.run()
            let seen = await ShipitBinary.read(p.standardOutput as! Pipe, until: ["bake: step 1/2 (20 % of requests)"])
            #expect(seen.contains("split 20 % ok"), "\(seen)")
            p.stopIfRunning(SIGKILL)
            _ = await ShipitBinary.wait(p)
            // The dead run's split serves on: v2 answers its share.
            let during = try await f.sh(
                f.targets[0], "readlink \(f.deployTo)/.shipit/proxy/canary.sock")
            #expect(during.hasSuffix(".g.sock\n"), "\(during)")
            let abort = try await f.shipit(["rollout", "abort"])
            #expect(abort.status == 0, "\(abort.stdout.suffix(3000))\(abort.stderr)")
            #expect(abort.stdout.contains("3 host(s) send every request to it again"), "\(abort.stdout.suffix(2000))")
            #expect(try await f.servingSlots() == before, "the previous release serves from the same process")
            for h in f.targets {
                #expect(try await f.served(h).contains("v1"))
                #expect(try await f.lockHolder(h) == "free")
            }
            // The next deploy finds nothing left to undo, and goes on.
            let v4 = try await f.shipit(["deploy", "--from", f.release("v4"), "--steps", "100%", "--bake", "0"])
            let r = try await load.finish()
            #expect(v4.status == 0, "\(v4.stdout.suffix(3000))")
            #expect(r.failed == 0, "\(r.errors)")
            #expect((r.versions["v2"] ?? 0) > 0 && (r.versions["v4"] ?? 0) > 0, "\(r.versions)")
        }
    }

    @Test func aSignalDuringARequestStepSendsTheShareBackAndThePreviousReleaseNeverStopped() async throws {
        let f = try fixture()
        try await withCleanup({ await f.cleanUp() }) {
            #expect(
                try await f.shipit(["deploy", "--from", f.release("v1"), "--steps", "100%", "--bake", "0"]).status == 0)
            let before = try await f.servingSlots()
            let load = try LoadGenerator(targets: f.targets, port: f.port, threads: 2, clients: 10)
            let p = bin.start(["deploy", "--config", f.configFile, "--from", f.release("v2")])
            try p.run()
            _ = await ShipitBinary.read(p.standardOutput as! Pipe, until: ["bake: step 1/2 (20 % of requests)"])
            try await Task.sleep(for: .seconds(1))
            p.stopIfRunning(SIGINT)
            let (status, rest) = await ShipitBinary.finish(p)
            let r = try await load.finish()
            #expect(status == ShipitExit.interrupted.rawValue, "\(rest.suffix(2000))")
            #expect(rest.contains("rollback (requests) ok"), "\(rest.suffix(2000))")
            #expect(r.failed == 0, "\(r.errors)")
            #expect((r.versions["v2"] ?? 0) > 0, "\(r.versions)")
            #expect(try await f.servingSlots() == before)
            for h in f.targets {
                #expect(try await f.served(h).contains("v1"))
                #expect(try await f.lockHolder(h) == "free")
            }
        }
    }
}
