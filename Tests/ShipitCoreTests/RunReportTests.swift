import Foundation
import Testing

@testable import ShipitCore

/// The run's HTML picture from ledger records alone: lanes, bars, rollout marks, gate charts, the
/// failure that stopped the run, and escaping of everything the ledger holds.
@Suite("report: the HTML picture of one run")
struct RunReportTests {
    let t0 = Date(timeIntervalSince1970: 1_800_000_000)

    func at(_ s: Double) -> Date { t0.addingTimeInterval(s) }

    func attempt(_ hosts: [(String, Int?)], outcome: LedgerAttempt.Outcome, error: String? = nil) -> LedgerAttempt {
        LedgerAttempt(
            id: "20270115T080000Z-abcd", app: "web", stage: nil, strategy: "symlink", operation: "deploy",
            releaseID: "r2", user: "ops", machine: "ci-1", pid: 1, startedAt: t0, finishedAt: at(20),
            outcome: outcome, error: error, configHash: "c",
            hosts: hosts.map { LedgerHostState(host: $0.0, rolloutStep: $0.1) })
    }

    func step(
        _ host: String?, _ name: String, _ status: String, _ from: Double, _ to: Double, _ message: String? = nil,
        value: Double? = nil
    ) -> LedgerStep {
        LedgerStep(
            attemptID: "a", host: host, step: name, status: status, startedAt: at(from), finishedAt: at(to),
            message: message, value: value)
    }

    static let settings = [
        "hosts": "h1, h2, h3",
        "rollout.steps": "1, 100%",
        "rollout.gates[0].type": "health",
        "rollout.gates[1].type": "http",
        "rollout.gates[1].name": "errors",
        "rollout.gates[1].max": "0.2",
    ]

    /// A two-step rollout on three hosts whose second step's `errors` gate fails on h2.
    func failedRollout() -> (LedgerAttempt, [LedgerStep]) {
        let a = attempt([("h2", 2), ("h1", 1), ("h3", 2)], outcome: .rolledBack, error: "gate errors failed 1 time(s)")
        var steps: [LedgerStep] = []
        for h in ["h1", "h2", "h3"] {
            steps.append(step(h, "preflight", "ok", 0, 1))
            steps.append(step(h, "upload", "ok", 1, 2))
        }
        steps += [
            step(nil, "rollout", "info", 2, 2, "step 1/2 starts: 1 host(s): h1"),
            step("h1", "warm", "ok", 2, 3), step("h1", "switch", "ok", 3, 4), step("h1", "smoke test", "ok", 4, 5),
            step(nil, "state", "info", 5, 5, "smokeTest → bake"),
            step(nil, "gate", "info", 5.5, 5.5, "step 1/2 · health on h1: live ok, ready ok"),
            step(nil, "gate", "info", 5.5, 5.5, "step 1/2 · errors on h1: error_ratio = 0.05 ≤ max 0.2", value: 0.05),
            step(nil, "gate", "info", 7, 7, "step 1/2 · errors on h1: error_ratio = 0.1 ≤ max 0.2", value: 0.1),
            step(nil, "state", "info", 8, 8, "bake → warm"),
            step(nil, "rollout", "info", 8, 8, "step 2/2 starts: 2 host(s): h2, h3"),
            step("h2", "warm", "ok", 8, 9), step("h3", "warm", "ok", 8, 9),
            step("h2", "switch", "ok", 9, 10), step("h3", "switch", "ok", 9, 10),
            step(nil, "state", "info", 11, 11, "smokeTest → bake"),
            step(nil, "gate", "info", 12, 12, "step 2/2 · errors on h2: error_ratio = 0.1 ≤ max 0.2", value: 0.1),
            step(nil, "gate", "failed", 13, 13, "step 2/2 · errors on h2: error_ratio = 0.9 > max 0.2", value: 0.9),
            step(nil, "state", "info", 13.5, 13.5, "bake → rollingBack"),
            step("h1", "rollback", "ok", 14, 15), step("h2", "rollback", "failed", 14, 15, "gone"),
        ]
        return (a, steps)
    }

    @Test func oneLanePerHostInRolloutOrderWithABarPerStepColouredByOutcome() {
        let (a, steps) = failedRollout()
        let p = RunPicture(attempt: a, steps: steps, settings: Self.settings)
        #expect(p.lanes.map(\.host) == ["h1", "h2", "h3"])
        #expect(p.lanes.map(\.rolloutStep) == [1, 2, 2])
        let h1 = p.lanes[0].bars
        #expect(h1.map(\.step) == ["preflight", "upload", "warm", "switch", "smoke test", "bake", "bake", "rollback"])
        #expect(h1.first { $0.step == "bake" }.map { [$0.start, $0.end] } == [5, 8])
        // The second bake watched every host switched so far, and a gate stopped it.
        for lane in p.lanes {
            let last = lane.bars.last { $0.step == "bake" }
            #expect(last?.outcome == "failed" && last?.start == 11 && last?.end == 13.5, "\(lane.host)")
        }
        #expect(p.lanes[1].bars.first { $0.step == "rollback" }?.outcome == "failed")
        #expect(p.marks == [RunPicture.Mark(at: 2, label: "step 1/2"), RunPicture.Mark(at: 8, label: "step 2/2")])
        #expect(p.duration == 20)

        let html = ReportHTML.render(p)
        #expect(html.components(separatedBy: "<g class=\"lane").count - 1 == 3)
        #expect(html.contains("<g class=\"lane stopped\" data-host=\"h2\" data-rollout-step=\"2\">"))
        #expect(html.contains("class=\"bar failed rollback\" data-step=\"rollback\""))
        #expect(html.contains("class=\"bar ok\" data-step=\"smoke test\""))
        #expect(html.components(separatedBy: "class=\"rollout-mark\"").count - 1 == 2)
    }

    @Test func eachGateIsDrawnOverTimeAgainstItsThreshold() {
        let (a, steps) = failedRollout()
        let p = RunPicture(attempt: a, steps: steps, settings: Self.settings)
        #expect(p.gates.map(\.name) == ["health", "errors"])
        #expect(p.gates[0].max == nil)
        let errors = p.gates[1]
        #expect(errors.max == 0.2)
        #expect(errors.series.map(\.host) == ["h1", "h2"])
        #expect(errors.series[1].samples.map(\.value) == [0.1, 0.9])
        #expect(errors.series[1].samples.map(\.ok) == [true, false])

        let html = ReportHTML.render(p)
        #expect(html.contains("<figure class=\"gate\" data-gate=\"errors\">"))
        #expect(html.contains("<g class=\"threshold\" data-max=\"0.2\">"))
        // The chart spans 0 to the largest value plus a tenth: 0.9 → 0.99; h2's two samples at
        // +12 s and +13 s of 20 s.
        let x12 = 210 + 970 * 12.0 / 20
        let x13 = 210 + 970 * 13.0 / 20
        func y(_ v: Double) -> Double { 142 - 116 * v / 0.99 }
        let points = String(format: "%.1f,%.1f %.1f,%.1f", x12, y(0.1), x13, y(0.9))
        #expect(html.contains("<polyline points=\"\(points)\"/>"), "\(points)")
        #expect(html.contains("class=\"sample failed\""))
        // The pass/fail gate has samples but no line.
        let health = html.components(separatedBy: "data-gate=\"health\"")[1].components(separatedBy: "</figure>")[0]
        #expect(!health.contains("<polyline") && health.contains("class=\"sample ok\""))
    }

    @Test func theFailureThatStoppedTheRunIsPointedAt() {
        let (a, steps) = failedRollout()
        let p = RunPicture(attempt: a, steps: steps, settings: Self.settings)
        #expect(
            p.failure
                == RunPicture.Failure(at: 13, host: "h2", step: "gate errors", message: "error_ratio = 0.9 > max 0.2"))
        let html = ReportHTML.render(p)
        #expect(html.contains("<section id=\"failure\" class=\"failure\" data-step=\"gate errors\">"))
        // On the lanes (a ring on h2's lane) and on the gate's chart.
        #expect(html.components(separatedBy: "class=\"failure-mark\"").count - 1 == 2)

        // A step that fails on a host, before any gate: that step, not the rollback after it.
        var warmFails = attempt([("h1", nil), ("h2", nil)], outcome: .failed, error: "warm failed on h2")
        warmFails.finishedAt = at(6)
        let early = RunPicture(
            attempt: warmFails,
            steps: [
                step("h1", "warm", "ok", 1, 2), step("h2", "warm", "failed", 1, 3, "port 8080 in use"),
                step("h1", "rollback", "failed", 4, 5, "later"),
            ], settings: [:])
        #expect(early.failure == RunPicture.Failure(at: 3, host: "h2", step: "warm", message: "port 8080 in use"))

        // A run that succeeded has none.
        let ok = RunPicture(
            attempt: attempt([("h1", nil)], outcome: .succeeded), steps: [step("h1", "warm", "ok", 1, 2)], settings: [:]
        )
        #expect(ok.failure == nil)
        #expect(!ReportHTML.render(ok).contains("class=\"failure-mark\""))
    }

    @Test func everyValueFromTheLedgerIsEscaped() {
        let evil = "<script>alert(1)</script>"
        var a = attempt([(evil, nil), ("h\"><img src=x onerror=alert(2)>", nil)], outcome: .failed, error: evil)
        a.app = "<b>app</b>"
        a.releaseID = "r'1"
        let steps = [
            step(evil, "<i>warm</i>", "failed", 1, 2, "</title><script>alert(3)</script>"),
            step(nil, "gate", "failed", 2, 2, "step 1/1 · health on \(evil): </svg><script>x</script>"),
        ]
        let html = RunReport.html(attempt: a, steps: steps, settings: [:])
        #expect(!html.lowercased().contains("<script"))
        #expect(!html.contains("<img"))
        #expect(!html.contains("<b>app") && !html.contains("<i>warm"))
        #expect(html.contains("data-host=\"&lt;script&gt;alert(1)&lt;/script&gt;\""))
        #expect(html.contains("data-host=\"h&quot;&gt;&lt;img src=x onerror=alert(2)&gt;\""))
        #expect(html.contains("r&#39;1"))
        #expect(HTMLText.escape("a\u{1B}[31mb&") == "a\u{FFFD}[31mb&amp;")
        // Nothing is fetched: no script, stylesheet, image or font from anywhere.
        for pattern in ["<link", "src=\"http", "href=\"http", "url(", "@import"] {
            #expect(!html.contains(pattern), "\(pattern)")
        }
    }

    @Test func gateLinesAreReadBackIntoGateHostAndDetail() {
        #expect(
            GateLine("step 2/3 · errors on 127.0.0.1: error_ratio = 0.9 > max 0.2")
                == GateLine(gate: "errors", host: "127.0.0.1", detail: "error_ratio = 0.9 > max 0.2"))
        #expect(
            GateLine("step 1/1 · health on ::1: live ok") == GateLine(gate: "health", host: "::1", detail: "live ok"))
        #expect(
            GateLine("step 1/2 · prom: 0.83 > max 0.1 (query)")
                == GateLine(gate: "prom", host: nil, detail: "0.83 > max 0.1 (query)"))
        #expect(GateLine("") == nil)
        #expect(RunPicture.threshold(of: "http", ["rollout.gates[0].type": "http", "rollout.gates[0].max": "3"]) == 3)
        #expect(RunPicture.threshold(of: "other", Self.settings) == nil)
    }

    /// Records out of any sense stay drawable: a finish weeks later, a NaN sample, a gate on forty
    /// hosts with thousands of samples; the page stays bounded and has no `nan`.
    @Test func oddRecordsStayBounded() {
        var a = attempt((1...40).map { ("h\($0)", 1) }, outcome: .succeeded)
        a.finishedAt = at(90 * 86400)
        var steps: [LedgerStep] = []
        for h in 1...40 {
            for i in 0..<100 {
                steps.append(
                    step(
                        nil, "gate", "info", Double(i), Double(i),
                        "step 1/1 · errors on h\(h): error_ratio = 0.1 ≤ max 0.2",
                        value: i == 5 ? .nan : 0.1))
            }
        }
        let page = RunReport.html(attempt: a, steps: steps, settings: Self.settings)
        #expect(!page.lowercased().contains("nan"))
        #expect(page.components(separatedBy: "<circle").count - 1 <= 8 * 300)
        #expect(page.contains("+32 more host(s)"))
        // The axis: about ten ticks however long the run.
        #expect(page.components(separatedBy: "<g class=\"axis\">").count > 1)
        #expect(ReportHTML.tick(30 * 86400) * 12 >= 30 * 86400)
        #expect(page.utf8.count < 2_000_000, "\(page.utf8.count) bytes")
    }
}
