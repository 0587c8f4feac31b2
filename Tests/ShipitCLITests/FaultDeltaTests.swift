import Foundation
import ShipitCore
import TestSupport
import Testing

/// A delta deploy killed (SIGKILL, no cleanup at all) once its upload starts: `current` stays
/// the complete earlier release, nothing half-built is ever used, and the next deploy removes
/// what was left and builds the release from a delta again.
@Suite("faults: a delta deploy killed in its upload")
struct FaultDeltaTests {
    @Test func aKilledDeltaDeployLeavesCurrentCompleteAndTheNextOneBuildsTheRelease() async throws {
        let f = try DeployFixture()
        let trees = DeltaDeployTests()
        try await withCleanup({ await f.cleanUp() }) {
            let v1 = try await trees.bigTree(f, "v1")
            #expect(try await f.shipit(["deploy", "--from", v1]).status == 0)
            let before = try await f.currentRelease(f.targets[0])
            let v2 = try await trees.bigTree(f, "v2", from: v1)
            let bin = ShipitBinary()
            let p = bin.start(["deploy", "--config", f.configFile, "--from", v2])
            try p.run()
            let seen = await ShipitBinary.read(p.standardOutput as! Pipe, until: ["state: preflight → upload"])
            p.stopIfRunning(SIGKILL)
            p.waitUntilExit()
            #expect(seen.contains("state: preflight → upload"), "\(seen)")
            for h in f.targets {
                #expect(try await f.currentRelease(h) == before)
                #expect(try await f.served(h) == "hello from releases-example v1")
            }
            let verify = try await bin.run(["verify", "--config", f.configFile])
            #expect(verify.status == 0, "\(verify.stdout)")

            // The dead run's lock is taken over; its leftovers go in the pre-flight.
            let next = try await f.shipit(["deploy", "--from", v2])
            #expect(next.status == 0, "\(next.stdout)")
            #expect(next.stdout.contains("upload ok: delta: "), "\(next.stdout)")
            for h in f.targets {
                #expect(try await f.served(h) == "hello from releases-example v2")
                #expect(
                    try await f.sh(
                        h, "ls -a \(f.deployTo)/releases \(f.deployTo)/.shipit | grep -c -e tmp -e upload- || true")
                        == "0\n")
            }
        }
    }
}
