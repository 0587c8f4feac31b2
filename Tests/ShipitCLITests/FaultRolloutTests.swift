import Foundation
import ShipitCore
import TestSupport
import Testing

/// The rollout's fault cases (issue 17): a signal during a bake, sshd killed on a host of the
/// second step, a paused rollout picked up by another process, and one whose promoting process
/// died mid-step.
@Suite("faults: rollout", .serialized)
struct FaultRolloutTests {
    let hosts = TestHosts.current
    let bin = ShipitBinary()

    @Test func aSignalDuringABakeRollsBackTheSwitchedHosts() async throws {
        let f = try DeployFixture(
            extraYAML: """
                rollout:
                  steps: [1, "100%"]
                  bake: 30
                """)
        try await withCleanup({ await f.cleanUp() }) {
            let v1 = try await f.shipit(["deploy", "--from", f.release("v1"), "--bake", "0"])
            #expect(v1.status == 0)
            let good = try await f.currentRelease(hosts.hosts[0])
            let p = bin.start(["deploy", "--config", f.configFile, "--from", f.release("v2")])
            try p.run()
            let out = await ShipitBinary.read(p.standardOutput as! Pipe, until: ["bake: step 1/2: watching"])
            #expect(out.contains("watching 1 host(s)"))
            p.stopIfRunning(SIGINT)
            let (status, rest) = await ShipitBinary.finish(p)
            #expect(status == ShipitExit.interrupted.rawValue, "\(rest.suffix(2000))")
            for h in hosts.hosts { #expect(try await f.currentRelease(h) == good) }
            for h in hosts.hosts { #expect(try await f.lockHolder(h) == "free") }
        }
    }

    @Test func sshdKilledOnAHostOfTheSecondStepAbortsAndRollsBackTheFirst() async throws {
        let addresses = ["127.0.0.171", "127.0.0.172", "127.0.0.173"]
        for a in addresses { try await hosts.harness(["start-host", a], environment: [:]) }
        // During step 1's bake a command gate kills every sshd of the step-2 host: it drops off
        // the network before its switch.
        let armed = Local.tempDir("armed") + "/on"
        let kill =
            "[ ! -f \(armed) ] || [ \"$SHIPIT_STEP\" != 1 ] || bash \(hosts.repoRoot)/scripts/testhosts.sh kill-host \(addresses[1]) >/dev/null 2>&1 || true"
        let f = try DeployFixture(
            targets: addresses,
            extraYAML: """
                rollout:
                  steps: [1, 2, 3]
                  bake: 0.5
                  interval: 0.2
                  gates:
                    - {type: health}
                    - {type: command, run: '\(kill)', timeout: 60}
                """)
        try await withCleanup({
            for a in addresses { _ = try? await hosts.harness(["stop-host", a], environment: [:]) }
        }) {
            let v1 = try await f.shipit(["deploy", "--from", f.release("v1"), "--steps", "100%"])
            #expect(v1.status == 0, "\(v1.stdout.suffix(2000))")
            let good = try await f.currentRelease(addresses[0])
            FileManager.default.createFile(atPath: armed, contents: nil)
            let r = try await f.shipit(["deploy", "--from", f.release("v2")])
            #expect(r.status == ShipitExit.rolledBack.rawValue, "\(r.stdout.suffix(3000))")
            #expect(r.stdout.contains("FAILED at rollout step 2 of 3"))
            #expect(try await f.currentRelease(addresses[0]) == good, "the canary is back")
            #expect(try await f.served(addresses[0]) == "hello from releases-example v1")
            #expect(try await f.currentRelease(addresses[2]) == good, "step 3 never touched")
            let entry = try #require(try await f.timeline().entries.last)
            let byHost = Dictionary(uniqueKeysWithValues: entry.hosts.map { ($0.host, $0) })
            #expect(
                byHost[addresses[1]]?.switchedAt == nil && byHost[addresses[1]]?.status == "failed",
                "the dead host never switched")
            #expect(byHost[addresses[2]]?.switchedAt == nil && byHost[addresses[2]]?.rolloutStep == 3)
            // The dead host comes back with its /srv as it was: still on v1.
            try await hosts.harness(["revive-host", addresses[1]], environment: [:])
            #expect(try await f.currentRelease(addresses[1]) == good)
        }
    }

    /// A deploy paused after step 1; `f` is set up with `pause_after: 1`.
    func pausedDeploy(_ f: DeployFixture) async throws -> (good: String, paused: String) {
        let v1 = try await f.shipit(["deploy", "--from", f.release("v1"), "--steps", "100%"])
        #expect(v1.status == 0, "\(v1.stdout.suffix(2000))")
        let good = try await f.currentRelease(hosts.hosts[0])
        let p = try await f.shipit(["deploy", "--from", f.release("v2")])
        #expect(p.status == 0, "\(p.stdout.suffix(2000))")
        #expect(p.stdout.contains("PAUSED after rollout step 1 of 3"))
        let paused = try await f.currentRelease(hosts.hosts[0])
        #expect(paused != good)
        #expect(try await f.currentRelease(hosts.hosts[1]) == good)
        for h in hosts.hosts {
            #expect(try await f.lockHolder(h) != "free", "the paused rollout holds the lock on \(h)")
        }
        let entry = try #require(try await f.timeline().entries.last)
        #expect(entry.outcome == "paused")
        return (good, paused)
    }

    @Test func aPausedRolloutIsReportedThenPromotedByAnotherProcess() async throws {
        let f = try DeployFixture(
            extraYAML: """
                rollout:
                  steps: [1, 2, 3]
                  bake: 0.3
                  pause_after: 1
                """)
        try await withCleanup({ await f.cleanUp() }) {
            let (_, paused) = try await pausedDeploy(f)
            // The next deploy is refused, naming the paused rollout and what to do.
            let other = try await f.shipit(["deploy", "--from", f.release("v4")])
            #expect(other.status == ShipitExit.locked.rawValue)
            #expect(other.stdout.contains("held by a PAUSED rollout of \(paused)"))
            #expect(other.stdout.contains("shipit rollout promote"))
            let promote = try await f.shipit(["rollout", "promote"])
            #expect(promote.status == 0, "\(promote.stdout.suffix(3000))")
            #expect(promote.stdout.contains("succeeded in 3 rollout steps"))
            for h in hosts.hosts {
                #expect(try await f.currentRelease(h) == paused)
                #expect(try await f.lockHolder(h) == "free")
            }
            let entry = try #require(try await f.timeline().entries.last { $0.release == paused })
            #expect(entry.outcome == "succeeded")
            #expect(entry.hosts.allSatisfy { $0.switchedAt != nil })
            // Nothing left to promote.
            let again = try await f.shipit(["rollout", "promote"])
            #expect(again.status == 1 && again.stderr.contains("no paused rollout"))
        }
    }

    @Test func aPromoteThatDiesMidStepIsAbortedAndTheFleetRestored() async throws {
        let f = try DeployFixture(
            extraYAML: """
                rollout:
                  steps: [1, 2, 3]
                  bake: 30
                  pause_after: 1
                """)
        try await withCleanup({ await f.cleanUp() }) {
            let v1 = try await f.shipit(["deploy", "--from", f.release("v1"), "--steps", "100%", "--bake", "0"])
            #expect(v1.status == 0)
            let good = try await f.currentRelease(hosts.hosts[0])
            let pause = try await f.shipit(["deploy", "--from", f.release("v2"), "--bake", "0"])
            #expect(pause.stdout.contains("PAUSED after rollout step 1 of 3"), "\(pause.stdout.suffix(2000))")
            // The promoting process is killed outright during step 2's bake.
            let p = bin.start(["rollout", "promote", "--config", f.configFile])
            try p.run()
            let seen = await ShipitBinary.read(p.standardOutput as! Pipe, until: ["bake: step 2/3: watching"])
            #expect(seen.contains("watching 2 host(s)"))
            p.stopIfRunning(SIGKILL)
            _ = await ShipitBinary.wait(p)
            #expect(try await f.currentRelease(hosts.hosts[1]) != good, "step 2 had switched")
            // Abort picks up the dead run: every switched host back, locks released.
            let abort = try await f.shipit(["rollout", "abort"])
            #expect(abort.status == 0, "\(abort.stdout.suffix(3000))\(abort.stderr)")
            #expect(
                abort.stdout.contains(
                    "ABORTED: the 2 switched host(s) are back on their previous release; 1 host(s) of later steps were never touched"
                ))
            for h in hosts.hosts {
                #expect(try await f.currentRelease(h) == good)
                #expect(try await f.served(h) == "hello from releases-example v1")
                #expect(try await f.lockHolder(h) == "free")
            }
        }
    }
}
