import Foundation
import ShipitCore
import TestSupport
import Testing

/// The traffic switch's orchestration over the fake fleet: each release warmed up on the idle
/// slot and smoke-tested there before the proxy moves, and a release that fails on its slot never
/// switched. Real hosts and nginx are covered by TrafficSwitchTests.
@Suite("traffic switch orchestration (fake transport)")
struct TrafficDeploymentTests {
    let hosts = ["h1", "h2"]

    func artifact(_ version: String) async throws -> Artifact {
        let src = Local.tempDir("fake-traffic-src")
        try version.write(toFile: src + "/VERSION", atomically: true, encoding: .utf8)
        return try await Local.offPool {
            try Artifact.build(from: .directory(src), workDir: Local.tempDir("fake-traffic-art"))
        }
    }

    func deploy(_ t: FakeTransport, version: String) async throws -> (DeployReport, Artifact) {
        let a = try await artifact(version)
        return (try await deploy(t, a), a)
    }

    func deploy(_ t: FakeTransport, _ a: Artifact) async throws -> DeployReport {
        let dir = Local.tempDir("fake-traffic")
        let config = try DeployConfig.parse(
            yaml: """
                app: fake
                hosts: [h1, h2]
                deploy_to: /srv/fake
                start: sh start.sh
                health: {port: 8080, deadline: 0.2, interval: 0.01}
                traffic: {proxy: nginx, slots: [8081, 8082]}
                hooks: \(dir)/hooks
                """, directory: dir)
        let d = Deployment(config: config, transport: t, notify: { _ in })
        return await d.deploy(a)
    }

    @Test func eachReleaseIsWarmedOnTheIdleSlotThenTheProxySwitches() async throws {
        let t = FakeTransport(hosts: hosts)
        let (r1, a1) = try await deploy(t, version: "1")
        #expect(r1.phase == .succeeded, "\(r1.hosts)")
        for h in hosts {
            // The warm-up rode in the pre-flight's channel; then the slot's smoke test, the switch.
            #expect(t.steps(h).starts(with: ["preflight", "upload", "extract", "warm"]), "\(t.steps(h))")
            #expect(t.steps(h).contains("switch"))
            #expect(t.activeSlot(h) == 8081 && t.slotReleases(h)[8081] == a1.releaseID)
            #expect(t.currentRelease(h) == a1.releaseID)
        }
        let (r2, a2) = try await deploy(t, version: "2")
        #expect(r2.phase == .succeeded)
        for h in hosts {
            #expect(t.activeSlot(h) == 8082 && t.slotReleases(h)[8082] == a2.releaseID)
            // The previous release stays warm on the other slot: a rollback is a switch.
            #expect(t.slotReleases(h)[8081] == a1.releaseID)
        }
    }

    @Test func aReleaseThatFailsOnItsSlotIsNeverSwitchedTo() async throws {
        let t = FakeTransport(hosts: hosts)
        let (r1, a1) = try await deploy(t, version: "1")
        #expect(r1.phase == .succeeded)
        let before = hosts.map { t.steps($0).filter { $0 == "switch" }.count }
        let bad = try await artifact("bad")
        t.unhealthy = [bad.releaseID]
        let r2 = try await deploy(t, bad)
        #expect(r2.phase != .succeeded)
        for (i, h) in hosts.enumerated() {
            // It was started on the idle slot, smoke-tested there, and the proxy never moved.
            #expect(t.slotReleases(h)[8082] == bad.releaseID || !t.steps(h).contains("warm"))
            #expect(t.currentRelease(h) == a1.releaseID)
            #expect(t.activeSlot(h) == 8081)
            #expect(t.steps(h).filter { $0 == "switch" }.count == before[i], "no switch to the broken release")
        }
    }
}
