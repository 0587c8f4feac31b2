import Foundation
import ShipitCore
import TestSupport
import Testing

/// `tolerate: {unreachable: N}` with hosts whose sshd is really down: within the budget the run
/// reaches the others and says which it left out (exit 8, the ledger, the summary); over it,
/// nothing changes; a host that fails its smoke test still rolls the fleet back.
@Suite("faults: unreachable hosts tolerated", .serialized)
struct FaultTolerateTests {
    let hosts = TestHosts.current
    /// The test's own hosts, next to the shared ones (their sshd is stopped and started here).
    let own = ["127.0.0.51", "127.0.0.52"]

    func fleet(_ tolerate: String) async throws -> DeployFixture {
        for h in own { try await hosts.harness(["start-host", h], environment: [:]) }
        return try DeployFixture(targets: hosts.hosts + own, extraYAML: "tolerate: {unreachable: \(tolerate)}")
    }

    func tearDown(_ f: DeployFixture) async {
        for h in own { _ = try? await hosts.reviveHost(h) }
        await f.cleanUp()
        for h in own { _ = try? await hosts.harness(["stop-host", h], environment: [:]) }
    }

    func lastEntry(_ f: DeployFixture) async throws -> Timeline.Entry {
        let t = try ShipitBinary.decode(Timeline.self, try await f.shipit(["changes", "--json", "--no-hosts"]).stdout)
        return try #require(t.entries.last)
    }

    @Test func oneDownWithinTheBudgetIsSkippedTwoDownOverItChangeNothing() async throws {
        let f = try await fleet("1")
        try await withCleanup({ await tearDown(f) }) {
            let v1 = try await f.shipit(["deploy", "--from", f.release("v1")])
            #expect(v1.status == 0, "\(v1.stdout)")
            let v1ID = try await f.currentRelease(own[0])

            try await hosts.killHost(own[0])
            let v2 = try await f.shipit(["deploy", "--from", f.release("v2")])
            #expect(v2.status == ShipitExit.partial.rawValue, "\(v2.stdout)\(v2.stderr)")
            #expect(
                v2.stdout.contains("succeeded on every reachable host; 1 unreachable host(s) skipped"), "\(v2.stdout)")
            #expect(v2.stdout.contains("\(own[0])  SKIPPED: unreachable: "), "\(v2.stdout)")
            let v2ID = try await f.currentRelease(hosts.hosts[0])
            for h in hosts.hosts + [own[1]] {
                #expect(try await f.currentRelease(h) == v2ID)
                #expect(try await f.served(h) == "hello from releases-example v2")
            }
            let e = try await lastEntry(f)
            #expect(e.outcome == "succeeded")
            let skipped = try #require(e.hosts.first { $0.host == own[0] })
            #expect(
                skipped.status == "skipped" && skipped.error?.hasPrefix("skipped: unreachable: ") == true, "\(skipped)")

            // Two down with a budget of one: refused at pre-flight as without `tolerate`, nothing changed.
            try await hosts.killHost(own[1])
            let v3 = try await f.shipit(["deploy", "--from", f.release("v1")])
            #expect(v3.status == ShipitExit.preflightFailed.rawValue, "\(v3.stdout)")
            #expect(v3.stdout.contains("2 host(s) unreachable, over tolerate.unreachable 1"), "\(v3.stdout)")
            for h in hosts.hosts {
                #expect(try await f.currentRelease(h) == v2ID)
                #expect(try await f.lockHolder(h) == "free")
            }
            // The skipped host, back, is still on what it ran: nothing reached it meanwhile.
            try await hosts.reviveHost(own[0])
            #expect(try await f.currentRelease(own[0]) == v1ID)
        }
    }

    /// The budget is for hosts unreachable at the start. One whose sshd dies while the run has
    /// it (here in the upload) fails the run as without `tolerate`: nothing switches, exit 1, and
    /// the ledger records it failed, not skipped.
    @Test func aHostLostDuringTheRunIsAFailureNotSkipped() async throws {
        let f = try await fleet("1")
        try await withCleanup({ await tearDown(f) }) {
            #expect(try await f.shipit(["deploy", "--from", f.release("v1")]).status == 0)
            let v1ID = try await f.currentRelease(hosts.hosts[0])
            // Big (incompressible) so the upload is still going when sshd dies.
            let big = try await f.bigRelease("v2", bytes: 40_000_000)
            let p = ShipitBinary().start(["deploy", "--config", f.configFile, "--from", big])
            let pipe = p.standardOutput as! Pipe
            try p.run()
            var out = await ShipitBinary.read(pipe, until: ["state: preflight → upload"], timeout: 120)
            try await hosts.killHost(own[0])
            out += await ShipitBinary.read(pipe, until: [])
            let status = await ShipitBinary.wait(p)
            // Lost in the upload (the usual case: 40 MB take longer than the kill) or later: a failure either way.
            #expect(status != 0 && status != ShipitExit.partial.rawValue, "\(out)")
            #expect(!out.contains("SKIPPED"), "\(out)")
            if out.contains("FAILED in upload") {
                #expect(status == ShipitExit.failure.rawValue, "\(out)")
                for h in hosts.hosts + [own[1]] {
                    #expect(try await f.currentRelease(h) == v1ID)
                    #expect(try await f.lockHolder(h) == "free")
                }
            }
            let lost = try #require(try await lastEntry(f).hosts.first { $0.host == own[0] })
            #expect(lost.status == "failed", "\(lost)")
        }
    }

    @Test func aHostFailingItsSmokeTestRollsTheFleetBackWhileAnotherIsSkipped() async throws {
        let f = try await fleet("50%")
        try await withCleanup({ await tearDown(f) }) {
            #expect(try await f.shipit(["deploy", "--from", f.release("v1")]).status == 0)
            let v1ID = try await f.currentRelease(hosts.hosts[0])
            try await hosts.killHost(own[0])
            // v3 fails its smoke test on every host it reaches.
            let v3 = try await f.shipit(["deploy", "--from", f.release("v3")])
            #expect(v3.status == ShipitExit.rolledBack.rawValue, "\(v3.stdout)")
            #expect(v3.stdout.contains("\(own[0])  SKIPPED: unreachable: "), "\(v3.stdout)")
            for h in hosts.hosts + [own[1]] { #expect(try await f.currentRelease(h) == v1ID) }
        }
    }
}
