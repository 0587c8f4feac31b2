import Foundation
import ShipitCore
import TestSupport
import Testing

extension SystemdSuites {
    /// Hosts that really boot, rebooted in the middle of a deploy (the fault suite).
    @Suite("faults: a reboot in the middle of a deploy")
    struct FaultRebootTests {
        let sd = SystemdHosts.current
        let on = SupervisedHosts()

        /// A reboot while a deploy waits before its switch, and one while it waits after it: once
        /// the host is back it serves the release its `current` names (the switch and the enabled
        /// unit are one step), and the next deploy completes.
        @Test(arguments: ["pre-switch", "post-switch"])
        func aRebootInTheMiddleOfADeploy(hook: String) async throws {
            let host = sd.hosts[2]
            let f = try on.fixture(targets: [host], worker: false)
            try await withCleanup({ await f.cleanUp() }) {
                #expect(try await f.shipit(["deploy", "--from", f.release("v1")]).status == 0)
                let park = try f.parkingHook(hook)
                let bin = ShipitBinary(hosts: sd.harness)
                let p = bin.start(["deploy", "--config", f.configFile, "--from", f.release("v2")])
                try p.run()
                try await DeployFixture.waitForFile(park.entered)
                do { try await sd.reboot(host) } catch {
                    // The parked run goes on and ends by itself, not left waiting behind a failed test.
                    FileManager.default.createFile(atPath: park.go, contents: nil)
                    throw error
                }
                FileManager.default.createFile(atPath: park.go, contents: nil)
                await withCheckedContinuation { c in
                    Thread.detachNewThread {
                        p.waitUntilExit()
                        c.resume()
                    }
                }
                let interrupted = String(
                    decoding: (p.standardOutput as! Pipe).fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)

                let current = try await f.currentRelease(host)
                let version = on.trimmed(try await f.sh(host, "cat \(f.deployTo)/releases/\(current)/VERSION"))
                let back = await on.secondsUntil(10) {
                    await on.get(host, f.port).contains("releases-example \(version)")
                }
                #expect(
                    back != nil,
                    "after the reboot (\(hook)) the host does not serve \(version), which current names: \(interrupted)"
                )
                try FileManager.default.removeItem(atPath: f.dir + "/hooks/" + hook)
                let next = try await f.shipit(["deploy", "--from", f.release("v2")])
                #expect(next.status == 0, "\(next.stdout)\(next.stderr)")
                #expect(await on.get(host, f.port).contains("releases-example v2"))
                try await on.expectServingEnabled(f, "after the next deploy", worker: false)
            }
        }
    }
}
