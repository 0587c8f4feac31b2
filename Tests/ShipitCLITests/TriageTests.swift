import Foundation
import ShipitCore
import TestSupport
import Testing

/// `shipit triage` against the real test hosts: each layer of the playbook, and the note.
@Suite("triage against real sshd hosts")
struct TriageTests {
    func triage(_ f: DeployFixture, _ extra: [String] = []) async throws -> (Int32, TriageReport) {
        let r = try await f.shipit(["triage", "--since", "1h", "--json"] + extra)
        return (r.status, try ShipitBinary.decode(TriageReport.self, r.stdout))
    }

    /// The test machine's load is shared by the whole parallel suite: not what these tests judge.
    static let lenientLoad = "triage:\n  load_max_per_cpu: 1000"

    func attemptID(_ r: ShipitBinary.Run) -> String? {
        r.stdout.split(separator: "\n").first { $0.hasPrefix("attempt ") }.map { String($0.split(separator: " ")[1]) }
    }

    @Test func aHealthyFleetHasNoFailingLayer() async throws {
        let f = try DeployFixture(extraYAML: Self.lenientLoad)
        try await withCleanup({ await f.cleanUp() }) {
            #expect(try await f.shipit(["deploy", "--from", f.release("v1")]).status == 0)
            let (status, r) = try await triage(f)
            #expect(status == 0)
            #expect(r.firstFailingLayer == nil, "\(r.findings)")
            #expect(
                r.hosts.count == f.targets.count
                    && r.hosts.allSatisfy { $0.reachable && $0.live == "ok" && $0.ready == "ok" })
            #expect(
                r.hosts.allSatisfy {
                    $0.diskUsedPercent != nil && $0.memoryAvailablePercent != nil && $0.loadPerCPU != nil
                })
        }
    }

    @Test func aBrokenReadyAfterADeployPointsAtTheDeployAndTheRollback() async throws {
        let f = try DeployFixture(extraYAML: Self.lenientLoad)
        try await withCleanup({ await f.cleanUp() }) {
            let v1 = try await f.shipit(["deploy", "--from", f.release("v1")])
            let v2 = try await f.shipit(["deploy", "--from", f.release("v2")])
            #expect(v1.status == 0 && v2.status == 0)
            let bad = f.targets[1]
            _ = try await f.sh(bad, "echo 503 > \(f.deployTo)/current/READY_STATUS")

            let note = Local.tempDir("note") + "/incident.md"
            let (status, r) = try await triage(f, ["--note", note])
            #expect(status == ShipitExit.unhealthy.rawValue)
            #expect(r.firstFailingLayer == .health)
            #expect(r.findings.map(\.host) == [bad])
            #expect(r.findings.first?.check == "ready")
            #expect(r.likelyChange == attemptID(v2))
            #expect(r.rollback.available && r.rollback.safe)
            #expect(r.rollback.command?.hasPrefix("shipit rollback") == true)
            let v1Release = try #require(r.changes.entries.first { $0.attempt == attemptID(v1) }?.release)
            #expect(r.rollback.target == v1Release)

            // The note carries every field, filled in.
            let md = try String(contentsOfFile: note, encoding: .utf8)
            for field in [
                "**Started (UTC):**", "**Affected hosts:** \(bad)", "**First failing layer:** health",
                "**Failing checks:** health/ready",
                "**Error seen:** \(bad): GET", "**Recent change (most likely related):** deploy of",
                "**Rollback available:** yes",
                "**Rollback command:** `shipit rollback", "## Impact", "## Timeline", "## Follow-ups",
            ] {
                #expect(md.contains(field), "missing \(field)")
            }
            #expect(md.contains(try #require(attemptID(v2))))
        }
    }

    @Test func aDeadHostIsANetworkFinding() async throws {
        let f = try DeployFixture(extraYAML: Self.lenientLoad)
        try await withCleanup({ await f.cleanUp() }) {
            #expect(try await f.shipit(["deploy", "--from", f.release("v1")]).status == 0)
            let hosts = (f.targets + ["127.0.0.199"]).joined(separator: ",")
            let (status, r) = try await triage(f, ["--hosts", hosts])
            #expect(status == ShipitExit.unhealthy.rawValue)
            #expect(r.firstFailingLayer == .network)
            #expect(r.findings.contains { $0.host == "127.0.0.199" && $0.layer == .network })
            #expect(r.hosts.filter(\.reachable).count == f.targets.count)
        }
    }

    @Test func aFailingDependencyCheckIsADependencyFinding() async throws {
        let f = try DeployFixture(
            extraYAML: """
                triage:
                  load_max_per_cpu: 1000
                  checks:
                    - name: postgres
                      command: "echo 'db:5432 - no response' >&2; exit 2"
                    - name: disk-writable
                      command: "touch /tmp/.shipit-triage-probe"
                      layer: process
                """)
        try await withCleanup({ await f.cleanUp() }) {
            #expect(try await f.shipit(["deploy", "--from", f.release("v1")]).status == 0)
            let (status, r) = try await triage(f)
            #expect(status == ShipitExit.unhealthy.rawValue)
            #expect(r.firstFailingLayer == .dependency)
            #expect(r.findings.count == f.targets.count)
            #expect(
                r.findings.allSatisfy {
                    $0.check == "postgres" && $0.detail.contains("exit 2") && $0.detail.contains("no response")
                })
            #expect(r.hosts.allSatisfy { $0.checks == ["postgres": 2, "disk-writable": 0] })
        }
    }

    @Test func aFullDiskIsAResourcesFinding() async throws {
        // A host of this test's own with a 16 MB /srv, so filling it disturbs no other test.
        let addr = "127.0.0.41"
        let hosts = TestHosts.current
        try await hosts.harness(["start-host", addr], environment: ["SHIPIT_SRV_SIZE": "16m"])
        let f = try DeployFixture(targets: [addr], extraYAML: Self.lenientLoad)
        try await withCleanup({
            await f.cleanUp()
            _ = try? await hosts.harness(["stop-host", addr], environment: [:])
        }) {
            #expect(try await f.shipit(["deploy", "--from", f.release("v1")]).status == 0)
            let s = try await hosts.connect(to: addr)
            _ = try await s.exec("dd if=/dev/zero of=/srv/fill bs=64k >/dev/null 2>&1; true", timeout: 30)
            let (status, r) = try await triage(f)
            _ = try await s.exec("rm -f /srv/fill")
            await s.close()
            #expect(status == ShipitExit.unhealthy.rawValue)
            #expect(r.firstFailingLayer == .resources, "\(r.findings)")
            #expect(
                r.findings.contains { $0.layer == .resources && $0.check == "disk" && $0.detail.contains("100% full") })
        }
    }
}
