import Foundation
import ShipitCore
import TestSupport
import Testing

/// Progressive rollouts against real sshd hosts: a release that breaks one host of the second
/// step on ten hosts, a Prometheus gate stopping a canary, http and command gates.
@Suite("rollout: steps, bake and gates on real hosts", .serialized)
struct RolloutTests {
    let hosts = TestHosts.current
    let bin = ShipitBinary()

    /// releases-example v5 that refuses to start on `host`.
    func failingOn(_ host: String) throws -> String {
        let dir = Local.tempDir("v5")
        try FileManager.default.removeItem(atPath: dir)
        try FileManager.default.copyItem(atPath: hosts.repoRoot + "/releases-example/v5", toPath: dir)
        try (host + "\n").write(toFile: dir + "/FAIL_ON", atomically: true, encoding: .utf8)
        return dir
    }

    @Test func tenHostsABreakInStepTwoRollsBackOnlyTheSwitchedHostsAndAHealthyReleaseRollsOut() async throws {
        let addresses = (161...170).map { "127.0.0.\($0)" }
        func onAll(_ action: String) async throws {
            let script =
                "for a in \(addresses.joined(separator: " ")); do bash '\(hosts.repoRoot)/scripts/testhosts.sh' \(action) $a & done; wait"
            try await Local.run(["bash", "-c", script])
        }
        try await onAll("start-host")
        let f = try DeployFixture(
            targets: addresses,
            extraYAML: """
                parallel: 10
                rollout:
                  steps: [1, "50%", "100%"]
                  bake: 1
                  interval: 0.5
                """)
        try await withCleanup({ try? await onAll("stop-host") }) {
            let v1 = try await f.shipit(["deploy", "--from", f.release("v1")])
            #expect(v1.status == 0, "\(v1.stdout.suffix(3000))\(v1.stderr)")
            #expect(v1.stdout.contains("succeeded in 3 rollout steps"))
            let good = try await f.currentRelease(addresses[9])

            // v5 refuses to start on the third host: step 2 (hosts 2–5) fails.
            let started = Date()
            let bad = try await f.shipit(["deploy", "--from", try failingOn(addresses[2])])
            let elapsed = Date().timeIntervalSince(started)
            #expect(bad.status == ShipitExit.rolledBack.rawValue, "\(bad.stdout.suffix(3000))")
            #expect(bad.stdout.contains("FAILED at rollout step 2 of 3"))
            #expect(bad.stdout.contains("5 host(s) of later steps were never touched"))
            // Two steps' switch and bake plus a rollback: seconds (15 s for the whole test alone),
            // not a hang; 17 to 35 s seen with the whole suite loading two cores.
            #expect(elapsed < 60, "took \(elapsed) s")
            for a in addresses {
                #expect(try await f.currentRelease(a) == good, "\(a) back on (or still on) the previous release")
                #expect(try await f.served(a) == "hello from releases-example v1")
            }
            let entry = try #require(try await f.timeline().entries.last)
            #expect(entry.outcome == "rolled-back")
            let byHost = Dictionary(uniqueKeysWithValues: entry.hosts.map { ($0.host, $0) })
            #expect(byHost[addresses[0]]?.rolloutStep == 1 && byHost[addresses[0]]?.switchedAt != nil)
            for a in addresses[1...4] { #expect(byHost[a]?.rolloutStep == 2) }
            for a in addresses[5...] {
                #expect(byHost[a]?.rolloutStep == 3, "\(a)")
                #expect(byHost[a]?.switchedAt == nil, "\(a) was never started")
            }
            #expect(entry.rollout.contains { $0.hasPrefix("step 2/3 starts: 4 host(s)") })
            #expect(!entry.rollout.contains { $0.hasPrefix("step 3/3") })
            // The release never reached the last step's hosts: nothing of it is there.
            #expect(try await f.sh(addresses[9], "ls \(f.deployTo)/releases | wc -l") == "1\n")

            let v2 = try await f.shipit(["deploy", "--from", f.release("v2")])
            #expect(v2.status == 0, "\(v2.stdout.suffix(3000))")
            for a in addresses { #expect(try await f.served(a) == "hello from releases-example v2") }
            let last = try #require(try await f.timeline().entries.last)
            #expect(last.hosts.allSatisfy { $0.switchedAt != nil } && last.hosts.count == 10)
            #expect(last.rollout.contains { $0.hasPrefix("step 3/3 done: 5 host(s) switched and checked, 10 of 10") })
        }
    }

    @Test func aPrometheusGateStopsTheCanaryAndOnlyTheCanaryIsRolledBack() async throws {
        let port = DeployFixture.peekPort()
        let prom = try PrometheusServer(targets: hosts.hosts.map { "\($0):\(port)" })
        let f = try DeployFixture(
            port: port,
            extraYAML: """
                rollout:
                  steps: [1, "100%"]
                  bake: 10
                  interval: 0.5
                  gates:
                    - type: prometheus
                      name: errors
                      url: \(prom.url)
                      query: 'max(rate(demo_requests_total{code=~"5..",instance=~"{hosts}"}[4s])) or vector(0)'
                      max: 0.5
                """)
        try await withCleanup({
            prom.stop()
            await f.cleanUp()
        }) {
            try await prom.waitReady()
            let v1 = try await f.shipit(["deploy", "--from", f.release("v1"), "--bake", "0"])
            #expect(v1.status == 0, "\(v1.stdout.suffix(3000))\(v1.stderr)")
            let good = try await f.currentRelease(hosts.hosts[0])

            // v6 reports 5 server errors a second: Prometheus sees the canary's rate rise.
            let bad = try await f.shipit(["deploy", "--from", f.release("v6")])
            #expect(bad.status == ShipitExit.rolledBack.rawValue, "\(bad.stdout.suffix(3000))")
            #expect(bad.stdout.contains("FAILED at rollout step 1 of 2 (gate errors:"), "\(bad.stdout.suffix(1500))")
            #expect(bad.stdout.contains("> max 0.5"))
            for h in hosts.hosts {
                #expect(try await f.currentRelease(h) == good)
                #expect(try await f.served(h) == "hello from releases-example v1")
            }
            let entry = try #require(try await f.timeline().entries.last)
            #expect(
                entry.hosts.filter { $0.switchedAt != nil }.map(\.host) == [hosts.hosts[0]], "only the canary switched")
            let failed = try #require(entry.rollout.first { $0.hasPrefix("gate FAILED: step 1/2 · errors: ") })
            #expect(failed.contains("> max 0.5"))
            #expect(entry.error?.contains("gate errors") == true)
        }
    }

    @Test func httpAndCommandGatesSeeTheSwitchedHosts() async throws {
        let port = DeployFixture.peekPort()
        let seen = Local.tempDir("gate") + "/gate-env"
        let f = try DeployFixture(
            port: port,
            extraYAML: """
                rollout:
                  steps: [1, "100%"]
                  bake: 0.6
                  interval: 0.3
                  gates:
                    - {type: http, url: "http://{host}:\(port)/metrics.json", json: error_ratio, max: 0.2}
                    - {type: command, run: 'echo "$SHIPIT_STEP/$SHIPIT_STEPS $SHIPIT_SWITCHED_HOSTS $SHIPIT_RELEASE" >> \(seen)'}
                """)
        try await withCleanup({ await f.cleanUp() }) {
            let ok = try await f.shipit(["deploy", "--from", f.release("v1")])
            #expect(ok.status == 0, "\(ok.stdout.suffix(3000))")
            let release = try await f.currentRelease(hosts.hosts[0])
            let lines = try String(contentsOfFile: seen, encoding: .utf8).split(separator: "\n").map(String.init)
            #expect(lines.first == "1/2 \(hosts.hosts[0]) \(release)")
            #expect(lines.last == "2/2 \(hosts.hosts.joined(separator: ",")) \(release)")

            // v6's error ratio climbs past 0.2 on the canary.
            let bad = try await f.shipit(["deploy", "--from", f.release("v6")])
            #expect(bad.status == ShipitExit.rolledBack.rawValue, "\(bad.stdout.suffix(3000))")
            #expect(bad.stdout.contains("gate http on \(hosts.hosts[0]): error_ratio = "), "\(bad.stdout.suffix(1500))")
            for h in hosts.hosts { #expect(try await f.currentRelease(h) == release) }
        }
    }

    @Test func behindTheTrafficSwitchUnderLoadAStoppedCanaryGoesBackToItsWarmStandbyAndNoRequestIsLost() async throws {
        let port = DeployFixture.peekPort()
        let f = try DeployFixture(
            port: port,
            extraYAML: """
                traffic: {proxy: nginx, drain: 1}
                rollout:
                  steps: [1, "100%"]
                  bake: 3
                  interval: 0.3
                  gates:
                    - {type: http, url: "http://{host}:\(port)/metrics.json", json: errors, max: 3}
                """)
        try await withCleanup({ await f.cleanUp() }) {
            let v1 = try await f.shipit(["deploy", "--from", f.release("v1"), "--bake", "0"])
            #expect(v1.status == 0, "\(v1.stdout.suffix(2000))")
            let canary = hosts.hosts[0]
            let load = try LoadGenerator(targets: f.targets, port: f.port, bad: "v6")
            let v6 = try await f.shipit(["deploy", "--from", f.release("v6")])
            let r = try await load.finish()
            #expect(v6.status == ShipitExit.rolledBack.rawValue, "\(v6.stdout.suffix(3000))")
            #expect(v6.stdout.contains("FAILED at rollout step 1 of 2 (gate http on \(canary)"))
            // Back to v1 by a traffic switch: v1 was warm on the canary's other slot, no rollback warm-up.
            #expect(v6.stdout.contains("\(canary) rollback ok"))
            #expect(!v6.stdout.contains("rollback warm"))
            #expect(r.failed == 0, "\(r.errors)")
            // Only the canary served v6, and only during its bake.
            #expect((r.versions["v6"] ?? 0) > 0, "\(r.versions)")
            for h in hosts.hosts { #expect(try await f.served(h) == "hello from releases-example v1") }
        }
    }
}
