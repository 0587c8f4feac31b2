import Foundation
import ShipitCore
import TestSupport
import Testing

/// Faults around the traffic switch (docs/traffic.md, issue 16): a signal while the new release
/// warms up on the idle slot, and sshd killed while the proxy switches. Nothing lost in each: every
/// host serves a complete release through its proxy, no lock is left, the ledger says what happened.
@Suite("faults: the traffic switch")
struct FaultTrafficTests {
    let bin = ShipitBinary()
    let hosts = TestHosts.current
    static let traffic = "traffic: {proxy: nginx, drain: 1}"

    @Test(arguments: [SIGINT, SIGTERM])
    func aSignalDuringTheWarmUpLeavesTheFleetServingWhatItServed(signal: Int32) async throws {
        let f = try DeployFixture(healthDeadline: 30, extraYAML: Self.traffic)
        try await withCleanup({ await f.cleanUp() }) {
            #expect(try await f.shipit(["deploy", "--from", f.release("v1")]).status == 0)
            #expect(try await f.shipit(["deploy", "--from", f.release("v2")]).status == 0)
            let current = try await f.currentRelease(f.targets[0])
            // v3-like: not ready on its slot until the gate opens; the signal comes first.
            let gate = try await GatedRelease(from: f.release("v1"), mode: .notReady)
            let load = try LoadGenerator(targets: f.targets, port: f.port, threads: 2)
            let p = bin.start(["deploy", "--config", f.configFile, "--from", gate.path])
            try p.run()
            try await gate.waitEntered(f.targets)
            // The start rode in the pre-flight's channel; the signal comes while the slot is probed.
            let seen = await ShipitBinary.read(p.standardOutput as! Pipe, until: ["→ warm"], timeout: 120)
            p.stopIfRunning(signal)
            let (status, out) = await ShipitBinary.finish(p)
            gate.open()
            let r = try await load.finish()
            #expect(status == ShipitExit.interrupted.rawValue, "\(out)")
            #expect(out.contains("state: warm → failed"), "\(seen)\(out)")
            #expect(r.failed == 0, "\(r.errors)")
            for h in f.targets {
                #expect(try await f.currentRelease(h) == current)
                #expect(try await f.served(h) == "hello from releases-example v2")
                #expect(try await f.lockHolder(h) == "free")
            }
            // The warm standby the interrupted release displaced is back: the rollback is instant.
            let back = try await f.shipit(["rollback"])
            #expect(back.status == 0, "\(back.stdout)")
            for h in f.targets { #expect(try await f.served(h) == "hello from releases-example v1") }
        }
    }

    /// The warm-up rides in the pre-flight's channel: hosts whose pre-flight passed have started
    /// the new release on the idle slot (where the standby ran) when another host's pre-flight
    /// fails. Those slots stop, the standby runs there again, nothing was switched.
    @Test func aPreflightFailingOnOneHostAfterOthersStartedTheReleaseGivesTheirStandbyBack() async throws {
        let f = try DeployFixture(healthDeadline: 5, extraYAML: Self.traffic)
        try await withCleanup({ await f.cleanUp() }) {
            #expect(try await f.shipit(["deploy", "--from", f.release("v1")]).status == 0)
            #expect(try await f.shipit(["deploy", "--from", f.release("v2")]).status == 0)
            let broken = f.targets[2]
            func standbyPid(_ h: String) async throws -> String {
                try await f.sh(
                    h,
                    "a=$(cat \(f.deployTo)/.shipit/slots/active); for s in \(f.deployTo)/.shipit/slots/*.pid; do [ \"$(basename $s .pid)\" = \"$a\" ] || cat $s; done"
                )
                .trimmingCharacters(in: .whitespacesAndNewlines)
            }
            var standbyPids: [String] = []
            for h in f.targets.dropLast() { standbyPids.append(try await standbyPid(h)) }
            // The last host cannot take a release: its pre-flight's extract fails.
            _ = try await f.sh(broken, "chmod a-w \(f.deployTo)/releases")
            let load = try LoadGenerator(targets: f.targets, port: f.port, threads: 2)
            let v3 = try await f.shipit(["deploy", "--from", f.release("v3")])
            let r = try await load.finish()
            _ = try await f.sh(broken, "chmod u+w \(f.deployTo)/releases")
            #expect(v3.status != 0, "\(v3.stdout)")
            #expect(v3.stdout.contains("FAILED in preflight"), "\(v3.stdout)")
            #expect(v3.stdout.contains("restore standby ok"), "\(v3.stdout)")
            #expect(r.failed == 0 && r.versions["v3"] == nil, "\(r.errors) \(r.versions)")
            for (i, h) in f.targets.dropLast().enumerated() {
                #expect(try await f.served(h) == "hello from releases-example v2")
                #expect(try await f.lockHolder(h) == "free")
                // v3 stopped and removed (it never went live); v1 warm on the idle slot again.
                #expect(
                    try await f.sh(h, "ls \(f.deployTo)/releases | wc -l").trimmingCharacters(
                        in: .whitespacesAndNewlines) == "2")
                let pid = try await standbyPid(h)
                #expect(pid != standbyPids[i], "the standby was started again")
                #expect(try await f.sh(h, "kill -0 \(pid) && echo alive").contains("alive"))
            }
            let back = try await f.shipit(["rollback"])
            #expect(back.status == 0, "\(back.stdout)")
            for h in f.targets { #expect(try await f.served(h) == "hello from releases-example v1") }
        }
    }

    /// A signal while the proxies switch (a system nginx whose reload parks on the first host):
    /// the switch finishes where it started, then every switched host goes back to the release
    /// it served, a traffic switch to the standby. Exit 130, no lock, the ledger says why.
    @Test(arguments: [SIGINT, SIGTERM])
    func aSignalWhileTheProxySwitchesSwitchesEveryHostBack(signal: Int32) async throws {
        let system = SystemNginx()
        let (gate, reload) = try system.parkingReload(on: hosts.hosts[0])
        let f = try DeployFixture(extraYAML: system.yaml(reload: reload))
        try await withCleanup({
            for h in f.targets { _ = try? await f.sh(h, system.tearDown) }
            await f.cleanUp()
        }) {
            for h in f.targets { #expect(try await f.sh(h, system.setUp(host: h, port: f.port)).contains("started")) }
            #expect(try await f.shipit(["deploy", "--from", f.release("v1")]).status == 0)
            let before = try await f.currentRelease(f.targets[0])
            FileManager.default.createFile(atPath: gate + "/armed", contents: nil)
            let load = try LoadGenerator(targets: f.targets, port: f.port, threads: 2)
            let p = bin.start(["deploy", "--config", f.configFile, "--from", f.release("v2")])
            try p.run()
            try await DeployFixture.waitForFile(gate + "/entered", timeout: 60)
            p.stopIfRunning(signal)
            try await Task.sleep(for: .milliseconds(100))
            FileManager.default.createFile(atPath: gate + "/go", contents: nil)
            let (status, out) = await ShipitBinary.finish(p)
            let r = try await load.finish()
            #expect(status == ShipitExit.interrupted.rawValue, "\(out)")
            #expect(out.contains("state: switch → rollingBack"), "\(out)")
            #expect(r.failed == 0, "\(r.errors)")
            for h in f.targets {
                #expect(try await f.currentRelease(h) == before)
                #expect(try await f.served(h) == "hello from releases-example v1")
                #expect(try await f.lockHolder(h) == "free")
            }
            let t = try ShipitBinary.decode(
                Timeline.self, try await f.shipit(["changes", "--json", "--no-hosts"]).stdout)
            let e = try #require(t.entries.last)
            #expect(e.outcome == "rolled-back", "\(out)")
            #expect(e.error?.contains("interrupted") == true)
            #expect(try await f.shipit(["verify"]).status == 0)
        }
    }

    /// The managed proxy switches by renaming one link (nothing to interrupt); a system nginx
    /// switches by rewriting the upstream, testing and reloading it: sshd dies during that reload.
    @Test func sshdKilledWhileTheProxySwitchesIsUnknownUntilARollbackBringsEveryHostBack() async throws {
        let lost = "127.0.0.48"
        try await hosts.harness(["start-host", lost], environment: [:])
        let system = SystemNginx()
        // A reload that parks on the lost host (once armed) until the test opens the gate.
        let (gate, reload) = try system.parkingReload(on: lost)
        let f = try DeployFixture(targets: hosts.hosts + [lost], extraYAML: system.yaml(reload: reload))
        try await withCleanup({
            _ = try? await hosts.reviveHost(lost)
            for h in f.targets { _ = try? await f.sh(h, system.tearDown) }
            await f.stopAll(on: lost)
            await f.cleanUp()
            _ = try? await hosts.harness(["stop-host", lost], environment: [:])
        }) {
            for h in f.targets { #expect(try await f.sh(h, system.setUp(host: h, port: f.port)).contains("started")) }
            #expect(try await f.shipit(["deploy", "--from", f.release("v1")]).status == 0)
            FileManager.default.createFile(atPath: gate + "/armed", contents: nil)
            let p = bin.start(["deploy", "--config", f.configFile, "--from", f.release("v2")], cwd: nil)
            try p.run()
            try await DeployFixture.waitForFile(gate + "/entered", timeout: 60)
            _ = try await hosts.killHost(lost)
            FileManager.default.createFile(atPath: gate + "/go", contents: nil)
            let (status, out) = await ShipitBinary.finish(p)
            #expect(status == ShipitExit.rollbackFailed.rawValue, "\(out)")
            #expect(out.contains("UNKNOWN"), "\(out)")
            for h in hosts.hosts {
                #expect(try await f.served(h) == "hello from releases-example v1")
                #expect(try await f.lockHolder(h) == "free")
            }
            try? FileManager.default.removeItem(atPath: gate + "/armed")
            try await hosts.reviveHost(lost)
            // What really happened there: the parked reload went on once the gate opened, and the
            // switch script with it (sshd's death does not stop it): the lost host serves v2,
            // complete, through its proxy, and `current` says so. status sees the drift.
            try await Task.sleep(for: .milliseconds(300))
            #expect(try await f.served(lost) == "hello from releases-example v2")
            let fleet = try await f.shipit(["status"])
            #expect(fleet.status == ShipitExit.unhealthy.rawValue, "\(fleet.stdout)")
            #expect(fleet.stdout.contains("DRIFT"))
            // One rollback brings the fleet together (a traffic switch to v1, still warm there).
            let back = try await f.shipit(["rollback"])
            #expect(back.status == 0, "\(back.stdout)")
            for h in f.targets {
                #expect(try await f.served(h) == "hello from releases-example v1")
                #expect(try await f.lockHolder(h) == "free")
            }
            #expect(try await f.shipit(["status"]).status == 0)
        }
    }
}
