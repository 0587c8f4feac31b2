import Foundation
import TestSupport
import Testing

@testable import ShipitCore

/// The pure judgements behind rollback, status, verify and triage.
@Suite("rollback target, host inspection, fleet verdict, triage verdict, incident note")
struct InspectionTests {
    static func inventory(current: String, releases: [String], failed: [String] = [], extra: String = "")
        -> ScriptOutput
    {
        ScriptOutput(
            (["current=\(current)"] + releases.map { "release=\($0)" } + failed.map { "failed=\($0)" }).joined(
                separator: "\n") + "\n" + extra)
    }

    @Test func rollbackGoesToTheNewestGoodReleasePresentEverywhere() {
        let inv = [
            "a": Self.inventory(current: "r4", releases: ["r1", "r2", "r3", "r4"], failed: ["r3"]),
            "b": Self.inventory(current: "r4", releases: ["r2", "r3", "r4"], failed: ["r3"]),
        ]
        // r3 is marked failed, r1 is missing on b: r2.
        let (t, why) = RollbackTarget.choose(
            hosts: ["a", "b"], requested: nil, inventory: inv, currents: ["r4", "r4"])
        #expect(t == "r2" && why == nil)
        // Asking for a release one host lacks names the host.
        let (t2, why2) = RollbackTarget.choose(
            hosts: ["a", "b"], requested: "r1", inventory: inv, currents: ["r4", "r4"])
        #expect(t2 == nil && why2 == "release r1 is not on b")
        // Nothing older and good.
        let (t3, why3) = RollbackTarget.choose(
            hosts: ["a"], requested: nil, inventory: ["a": Self.inventory(current: "r1", releases: ["r1"])],
            currents: ["r1"])
        #expect(t3 == nil && why3?.contains("no good release older than r1") == true)
    }

    @Test func aSplitFleetGoesBackToTheOldestRunningRelease() {
        let inv = [
            "a": Self.inventory(current: "r3", releases: ["r1", "r2", "r3"]),
            "b": Self.inventory(current: "r2", releases: ["r1", "r2", "r3"]),
        ]
        #expect(
            RollbackTarget.choose(hosts: ["a", "b"], requested: nil, inventory: inv, currents: ["r3", "r2"]).0 == "r2")
    }

    @Test func imageTargetsResolveByTagAndByDigest() {
        let d1 = String(repeating: "a", count: 64)
        let d2 = String(repeating: "b", count: 64)
        let r1 = ImageStrategy.releaseID(tag: "v1", digest: "sha256:" + d1)
        let r2 = ImageStrategy.releaseID(tag: "v1", digest: "sha256:" + d2)
        #expect(r1 == "v1-aaaaaaaaaaaa")
        let inv = [
            "a": Self.inventory(
                current: "v3-cccccccccccc", releases: [r1, r2, "v3-cccccccccccc"],
                extra: "ref.\(r1)=app@sha256:\(d1)\nref.\(r2)=app@sha256:\(d2)\n")
        ]
        #expect(
            RollbackTarget.choose(hosts: ["a"], requested: "v1", inventory: inv, currents: ["v3-cccccccccccc"]).0 == r2)
        #expect(
            RollbackTarget.choose(
                hosts: ["a"], requested: "sha256:" + d1, inventory: inv, currents: ["v3-cccccccccccc"]
            ).0 == r1)
        #expect(RollbackTarget.isDigest("sha256:" + d1) && !RollbackTarget.isDigest("v1"))
    }

    @Test func hostInspectionReadsTheInventoryAndTheLock() {
        var h = HostInspection(host: "a", reachable: true)
        let now = Date(timeIntervalSince1970: 1_800_000_100)
        let started = UTCTime.iso(Date(timeIntervalSince1970: 1_800_000_000))
        h.read(
            Self.inventory(
                current: "r4", releases: ["r1", "r2", "r3", "r4"], failed: ["r3"],
                extra:
                    "lock.holder=run-9\nlock.by=ann@ci\nlock.pid=42\nlock.started=\(started)\nlock.reason=deploy r4\nfiles=modified\nmodified=./a\nadded=./b\n"
            ), now: now)
        #expect(h.current == "r4")
        #expect(h.previous == "r2")  // r3 failed
        #expect(
            h.lock
                == HostInspection.Lock(
                    holder: "run-9", by: "ann@ci", pid: "42", started: started, reason: "deploy r4", ageSeconds: 100))
        #expect(h.files == HostInspection.Files(status: "modified", modified: ["./a"], added: ["./b"]))
        h.markStale(["run-9"])
        #expect(h.lock?.stale == true)
        var empty = HostInspection(host: "b", reachable: true)
        empty.read(ScriptOutput("current=\n"))
        #expect(empty.current == nil && empty.previous == nil && empty.lock == nil)
    }

    @Test func fleetVerdictNamesDriftUnhealthyAndChangedFiles() {
        var a = HostInspection(host: "a", reachable: true)
        a.current = "r2"
        var b = HostInspection(host: "b", reachable: true)
        b.current = "r1"
        b.ready = .init(ok: false, detail: "GET /health/ready → 503")
        b.files = .init(status: "modified", modified: ["./x"], added: [])
        let c = HostInspection(host: "c", reachable: false, error: "connection refused")
        let v = FleetVerdict([a, b, c], checkFiles: true)
        #expect(v.drift && v.release == nil && v.exitCode == .unhealthy)
        #expect(v.problems.contains("c: unreachable: connection refused"))
        #expect(v.problems.contains("b: ready check failed: GET /health/ready → 503"))
        #expect(v.problems.contains("b: release files modified: modified ./x"))
        b.ready = nil
        b.current = "r2"
        b.files = nil
        let ok = FleetVerdict([a, b])
        #expect(ok.ok && ok.release == "r2" && !ok.drift)
    }

    func triage() throws -> Triage {
        let config = try DeployConfig.parse(
            yaml: "app: t\nhosts: [a, b]\ndeploy_to: /srv/t\n", directory: Local.tempDir("triage-unit"))
        return Triage(
            config: config, transport: FakeTransport(hosts: ["a", "b"]),
            ledger: nil, ledgerStatus: "missing", since: Date())
    }

    @Test func triageJudgesLayersInPlaybookOrder() throws {
        let t = try triage()
        let full = ScriptOutput(
            "current=r1\ndisk.used_pct=99\ndisk.avail_kb=10\ndisk.mount=/srv\nmem.total_kb=1000\nmem.available_kb=500\nload.1=0.1\ncpus=2\n"
        )
        let (row, found) = t.judge(
            host: "a", out: full, live: .init(ok: false, detail: "GET /health/live → 500"), ready: nil)
        #expect(
            row.release == "r1" && row.diskUsedPercent == 99 && row.memoryAvailablePercent == 50 && row.live == "FAIL")
        #expect(found.map(\.layer) == [.health, .resources])
        #expect(TriageReport.firstLayer(found) == .health)
        let (_, none) = t.judge(host: "b", out: ScriptOutput("current=\n"), live: nil, ready: nil)
        #expect(none.map(\.check) == ["release"])
        #expect(TriageReport.firstLayer(none + found) == .process)
        #expect(TriageReport.firstLayer([]) == nil)
    }

    @Test func incidentNoteCarriesWhatTheMachineKnows() throws {
        let finding = TriageReport.Finding(host: "a", layer: .resources, check: "disk", detail: "/srv is 99% full")
        let change = Timeline.Entry(
            time: Date(timeIntervalSince1970: 1_800_000_000), finished: nil, attempt: "att-1", operation: "deploy",
            app: "t",
            stage: nil, release: "r2", outcome: "succeeded", state: nil, by: "ann@ci", ci: [:], source: nil,
            commit: nil, ref: nil,
            error: nil, changedCount: 1, changedFiles: [], configHash: nil, configChanges: ["keep_releases: 5 → 3"],
            imageDigest: nil,
            migrations: [], hosts: [], origin: "ledger")
        let report = TriageReport(
            app: "t", stage: "prod", time: Date(timeIntervalSince1970: 1_800_000_600),
            since: Date(timeIntervalSince1970: 1_799_990_000),
            hosts: [.init(host: "a", reachable: true, checks: [:]), .init(host: "b", reachable: true, checks: [:])],
            findings: [finding], firstFailingLayer: .resources,
            changes: Timeline(app: "t", ledgerStatus: "ok", hostStatus: [:], notes: [], total: 1, entries: [change]),
            likelyChange: "att-1",
            rollback: .init(
                available: true, target: "r1", command: "shipit rollback --config shipit.yml", safe: true,
                why: "r1 is on every host"),
            seconds: 0.3)
        let md = IncidentNote.markdown(report)
        #expect(md.hasPrefix("# Incident: t (prod) — resources failure"))
        #expect(md.contains("- **Affected hosts:** a of 2"))
        #expect(md.contains("- **Error seen:** a: /srv is 99% full"))
        #expect(
            md.contains(
                "deploy of r2 at 2027-01-15 08:00:00Z by ann@ci, succeeded [attempt att-1]; config: keep_releases: 5 → 3"
            ))
        #expect(md.contains("- **Rollback available:** yes → r1 (safe): r1 is on every host"))
        #expect(md.contains("- **Rollback command:** `shipit rollback --config shipit.yml`"))
        #expect(report.exitCode == .unhealthy)
    }
}
