import Foundation
import ShipitCore
import TestSupport
import Testing

/// SIGINT and SIGTERM in every state of a deploy (issue 9, case 5). The run is held at the state
/// (a parked hook, an upload in progress, a parked start command, a not-ready app, a parked
/// rollback), the signal is sent, and afterwards: every host on the release it ran before, serving
/// it; no lock; nothing half-uploaded; exit 130; the ledger says what happened.
@Suite("faults: signals in every state")
struct FaultSignalTests {
    enum State: String, CaseIterable, Sendable, CustomStringConvertible {
        case preflight, upload, migrate, `switch`, smokeTest, rollingBack
        var description: String { rawValue }
        /// A signal before the switch abandons the release; from the switch on, it rolls back.
        var rollsBack: Bool { [.switch, .smokeTest, .rollingBack].contains(self) }
    }

    let bin = ShipitBinary()
    let hosts = TestHosts.current

    @Test(arguments: State.allCases, [SIGINT, SIGTERM])
    func aSignalLeavesEveryHostOnTheReleaseItRanBefore(state: State, signal: Int32) async throws {
        // A long smoke-test deadline: in .smokeTest only the signal may end the probing (v3's
        // not-ready smoke test in .rollingBack fails at it, as it should).
        let f = try DeployFixture(healthDeadline: state == .rollingBack ? 2 : 30)
        try await withCleanup({ await f.cleanUp() }) {
            // What the fleet runs before the interrupted deploy (for .rollingBack: a v1 whose start
            // parks once armed, so the rollback to it can be held).
            let before =
                state == .rollingBack
                ? try await GatedRelease(from: f.release("v1"), mode: .parkStart, armed: false) : nil
            let first = try await f.shipit(["deploy", "--from", before?.path ?? f.release("v1")])
            #expect(first.status == 0, "\(first.stdout)")
            let beforeID = try await f.currentRelease(f.targets[0])

            var release = f.release("v2")
            var gate: GatedRelease?
            var hook: (entered: String, go: String)?
            switch state {
            case .preflight: hook = try f.parkingHook("pre-flight")
            case .migrate: hook = try f.parkingHook("pre-switch")  // runs in the migrate state, after the migrations
            case .upload:
                release = try await f.bigRelease("v2", bytes: 40_000_000)
            case .switch: gate = try await GatedRelease(from: f.release("v2"), mode: .parkStart)
            case .smokeTest: gate = try await GatedRelease(from: f.release("v2"), mode: .notReady)
            case .rollingBack:
                release = f.release("v3")  // not ready: its smoke test fails and the rollback starts
                before!.arm()
            }
            if let gate { release = gate.path }

            let p = bin.start(["deploy", "--config", f.configFile, "--from", release])
            try p.run()
            switch state {
            case .preflight, .migrate: try await DeployFixture.waitForFile(hook!.entered)
            case .upload:
                // Signalled as the upload phase starts: the 40 MB transfer takes far longer.
                _ = await ShipitBinary.read(
                    p.standardOutput as! Pipe, until: ["state: preflight → upload"], timeout: 120)
            case .switch: try await gate!.waitEntered(f.targets)
            case .smokeTest:
                try await gate!.waitEntered(f.targets)
                try await Task.sleep(for: .milliseconds(200))
            case .rollingBack: try await before!.waitEntered(f.targets)
            }
            p.stopIfRunning(signal)
            try await Task.sleep(for: .milliseconds(100))
            if let hook { FileManager.default.createFile(atPath: hook.go, contents: nil) }
            gate?.open()
            before?.open()
            let (status, out) = await ShipitBinary.finish(p)

            #expect(status == ShipitExit.interrupted.rawValue, "\(out)")
            for h in f.targets {
                #expect(try await f.currentRelease(h) == beforeID)
                #expect(try await f.served(h) == "hello from releases-example v1")
                #expect(try await f.lockHolder(h) == "free")
                #expect(try await f.leftovers(h) == "")
            }
            let t = try ShipitBinary.decode(
                Timeline.self, try await f.shipit(["changes", "--json", "--no-hosts"]).stdout)
            let e = try #require(t.entries.last)
            #expect(e.outcome == (state.rollsBack ? "rolled-back" : "failed"), "\(out)")
            #expect(e.error?.contains("interrupted") == true)
            let verify = try await f.shipit(["verify"])
            #expect(verify.status == 0, "\(verify.stdout)\(verify.stderr)")
        }
    }

    @Test func sigkillMidSwitchIsReportedInterruptedAndRollbackBringsTheHostsTogether() async throws {
        // One host at a time: when shipit dies, the first host runs v2, the second is switched with
        // its start parked, the third was never touched.
        let f = try DeployFixture(extraYAML: "parallel: 1")
        try await withCleanup({ await f.cleanUp() }) {
            #expect(try await f.shipit(["deploy", "--from", f.release("v1")]).status == 0)
            let v1 = try await f.currentRelease(f.targets[0])
            let gate = try await GatedRelease(from: f.release("v2"), mode: .parkStart, hosts: [f.targets[1]])
            let p = bin.start(["deploy", "--config", f.configFile, "--from", gate.path])
            try p.run()
            try await gate.waitEntered([f.targets[1]])
            p.stopIfRunning(SIGKILL)
            _ = await ShipitBinary.wait(p)
            gate.open()
            try await Task.sleep(for: .milliseconds(500))  // the parked start goes on without shipit

            let v2 = try await f.currentRelease(f.targets[0])
            #expect(v2 != v1)
            #expect(try await f.currentRelease(f.targets[2]) == v1)
            let status = try await f.shipit(["status"])
            #expect(status.stderr.contains("was interrupted in state switch"), "\(status.stderr)")
            #expect(status.status == ShipitExit.unhealthy.rawValue)
            #expect(status.stdout.contains("DRIFT"), "\(status.stdout)")
            #expect(status.stdout.contains("stale"))

            let back = try await f.shipit(["rollback"])
            #expect(back.status == 0, "\(back.stdout)")
            #expect(back.stdout.contains("target release \(v1)"))
            for h in f.targets {
                #expect(try await f.currentRelease(h) == v1)
                #expect(try await f.served(h) == "hello from releases-example v1")
                #expect(try await f.lockHolder(h) == "free")
            }
            #expect(try await f.shipit(["status"]).status == 0)
            let t = try ShipitBinary.decode(
                Timeline.self, try await f.shipit(["changes", "--json", "--no-hosts"]).stdout)
            #expect(t.entries.map(\.outcome) == ["succeeded", "interrupted", "succeeded"])
        }
    }
}
