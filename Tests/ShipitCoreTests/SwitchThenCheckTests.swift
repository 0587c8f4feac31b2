import Foundation
import Synchronization
import TestSupport
import Testing

@testable import ShipitCore

/// A rollback's switch → smoke test per host: each check starts as soon as its own host's switch
/// is done, with that host's result; switches and checks each stay within their limit; a check
/// that makes none (nil) is left out.
@Suite("switch then check: a rollback's pipeline")
struct SwitchThenCheckTests {
    final class Peak: Sendable {
        private let state = Mutex((now: 0, peak: 0))
        func enter() {
            state.withLock {
                $0.now += 1
                $0.peak = max($0.peak, $0.now)
            }
        }
        func leave() { state.withLock { $0.now -= 1 } }
        var peak: Int { state.withLock { $0.peak } }
    }

    @Test(arguments: [1, 2, 10])
    func eachCheckFollowsItsOwnSwitchWithinTheLimits(limit: Int) async throws {
        let hosts = (1...7).map { "h\($0)" }
        let switching = Peak()
        let checking = Peak()
        let order = Mutex<[String]>([])
        let (switched, checked) = await SwitchPhase.switchThenCheck(
            hosts, limit: limit,
            switchHost: { host in
                switching.enter()
                defer { switching.leave() }
                // The later hosts switch faster: checks start out of the hosts' order.
                try? await Task.sleep(for: .milliseconds(5 * (8 - Int(host.dropFirst())!)))
                order.withLock { $0.append("switched \(host)") }
                var r = StepResult(ok: true, output: ScriptOutput("switched=r1"), error: nil)
                r.note = host
                return r
            },
            check: { host, r in
                // A host's check sees its own switch's result, after it.
                #expect(r.note == host)
                guard host != "h4" else { return nil }
                checking.enter()
                defer { checking.leave() }
                #expect(order.withLock { $0.contains("switched \(host)") })
                try? await Task.sleep(for: .milliseconds(20))
                order.withLock { $0.append("checked \(host)") }
                return StepResult(ok: host != "h6", output: ScriptOutput(""), error: host == "h6" ? "down" : nil)
            })
        #expect(Set(switched.keys) == Set(hosts))
        #expect(Set(checked.keys) == Set(hosts).subtracting(["h4"]))
        #expect(checked["h6"]?.ok == false && checked["h1"]?.ok == true)
        #expect(switching.peak <= limit && checking.peak <= limit)
        if limit == 1 {
            // Checks did not wait for every switch: the first check ran before the last switch.
            let o = order.withLock { $0 }
            #expect(o.firstIndex { $0.hasPrefix("checked") }! < o.lastIndex { $0.hasPrefix("switched") }!, "\(o)")
        }
    }

    @Test func withoutACheckOnlyTheSwitchesRun() async {
        let (switched, checked) = await SwitchPhase.switchThenCheck(
            ["a", "b"], limit: 1, switchHost: { _ in StepResult(ok: true, output: ScriptOutput(""), error: nil) },
            check: nil)
        #expect(switched.count == 2 && checked.isEmpty)
    }

    /// A check carried at the end of a switch script: its own exit and its own error, never the
    /// switch's part (which succeeded, or the check never ran).
    @Test func aCheckCarriedByTheSwitchScriptIsReadFromItsOwnLines() {
        let passed = SmokeTestPhase.HostCheck.result(
            carriedIn: ScriptOutput("switched=r2\nrole.worker.ok=41\nrole.worker.said=ok\ncheck.exit=0\n"))
        #expect(passed?.ok == true && passed?.note == "checked at the end of the switch's script")
        let failed = SmokeTestPhase.HostCheck.result(
            carriedIn: ScriptOutput(
                "switched=r2\nerror=not this one\nerror=role worker: status exited 1: no heartbeat\ncheck.exit=31\n"))
        #expect(failed?.ok == false && failed?.exitStatus == 31)
        #expect(failed?.error == "role worker: status exited 1: no heartbeat")
        let silent = SmokeTestPhase.HostCheck.result(carriedIn: ScriptOutput("switched=r2\ncheck.exit=2\n"))
        #expect(silent?.ok == false && silent?.error == "exit 2")
        // An error line before the switch's own `switched=` is not the check's.
        let earlier = SmokeTestPhase.HostCheck.result(
            carriedIn: ScriptOutput("error=from before the switch\nswitched=r2\ncheck.exit=127\n"))
        #expect(earlier?.ok == false && earlier?.error == "exit 127")
        #expect(SmokeTestPhase.HostCheck.result(carriedIn: ScriptOutput("error=switch failed\n")) == nil)
    }
}
