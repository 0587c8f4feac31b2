import Foundation
import ShipitCore
import TestSupport
import Testing

/// 200 hosts in one run (issue 9, case 9; issue 18: the largest fleet CI holds): deploy, deploy, a
/// broken deploy rolled back on all 200, then `shipit rollback`, with every host checked by
/// `status` after each step. The hosts are the test's own (127.0.1.1–200), started and stopped
/// here.
@Suite("faults: two hundred hosts")
struct FaultScaleTests {
    let bin = ShipitBinary()
    let hosts = TestHosts.current
    static let count = 200
    static let addresses = (1...count).map { "127.0.1.\($0)" }

    func onAll(_ action: String) async throws {
        let script =
            "for a in \(Self.addresses.joined(separator: " ")); do bash '\(hosts.repoRoot)/scripts/testhosts.sh' \(action) $a & done; wait"
        try await Local.run(["bash", "-c", script])
    }

    /// `status --json`: the one release every host runs (nil on drift) and whether all are healthy.
    func fleetState(_ f: DeployFixture) async throws -> (release: String?, ok: Bool, hosts: Int) {
        let r = try await f.shipit(["status", "--json"])
        struct Snapshot: Decodable {
            let hosts: [HostInspection]
            let verdict: FleetVerdict
        }
        let s = try ShipitBinary.decode(Snapshot.self, r.stdout)
        return (s.verdict.release, s.verdict.ok, s.hosts.count)
    }

    @Test func twoHundredHostsDeployRollBackAutomaticallyAndOnRequest() async throws {
        try await onAll("start-host")
        let f = try DeployFixture(
            targets: Self.addresses, healthDeadline: 10, extraYAML: "parallel: \(Self.count)",
            connectTimeout: 30)
        let v1 = try await f.shipit(["deploy", "--from", f.release("v1")])
        #expect(v1.status == 0, "\(v1.stdout.suffix(3000))")
        let first = try await fleetState(f)
        #expect(first.ok && first.hosts == Self.count && first.release != nil)

        let v2 = try await f.shipit(["deploy", "--from", f.release("v2")])
        #expect(v2.status == 0, "\(v2.stdout.suffix(3000))")
        let second = try await fleetState(f)
        #expect(second.ok && second.release != nil && second.release != first.release)

        // v3 is never ready: all 200 switch, fail the smoke test, and go back to v2.
        let v3 = try await f.shipit(["deploy", "--from", f.release("v3")])
        #expect(v3.status == ShipitExit.rolledBack.rawValue, "\(v3.stdout.suffix(3000))")
        let afterAuto = try await fleetState(f)
        #expect(afterAuto.ok && afterAuto.release == second.release)

        let back = try await f.shipit(["rollback"])
        #expect(back.status == 0, "\(back.stdout.suffix(3000))")
        let afterManual = try await fleetState(f)
        #expect(afterManual.ok && afterManual.release == first.release)
        for h in [Self.addresses.first!, Self.addresses[Self.count / 2], Self.addresses.last!] {
            #expect(try await f.served(h) == "hello from releases-example v1")
        }
        let t = try ShipitBinary.decode(Timeline.self, try await f.shipit(["changes", "--json", "--no-hosts"]).stdout)
        #expect(t.entries.map(\.outcome) == ["succeeded", "succeeded", "rolled-back", "succeeded"])
        #expect(t.entries.allSatisfy { $0.hosts.count == Self.count })

        // Awaited here, not deferred: the test process may exit before a deferred task runs (if the
        // test fails early, the harness's `down` at the end of `make test` stops these hosts).
        _ = try await bin.run([
            "exec", "--hosts", Self.addresses.joined(separator: ","), "--user", hosts.user, "--identity",
            hosts.identity,
            "--known-hosts", hosts.knownHosts, "--", "kill $(cat \(f.deployTo)/shared/app.pid)",
        ])
        try await onAll("stop-host")
        await f.cleanUp()
    }
}
