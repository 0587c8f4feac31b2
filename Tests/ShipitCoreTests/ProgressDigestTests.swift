import Foundation
import Testing

@testable import ShipitCore

/// What each output level prints of a run's notices: the default sums up passing gate samples and,
/// past the host threshold, each step's per-host lines; failures are always printed whole.
@Suite("output levels: the progress digest")
struct ProgressDigestTests {
    func gate(_ host: String, ok: Bool, _ detail: String = "live and ready") -> DeployNotice {
        DeployNotice(host: host, step: "gate", status: ok ? .ok : .failed, message: "health: \(detail)")
    }

    func step(_ host: String, _ step: String, ok: Bool = true, seconds: Double = 0.1) -> DeployNotice {
        DeployNotice(
            host: host, step: step, status: ok ? .ok : .failed, message: ok ? "" : "exit 3: boom", seconds: seconds)
    }

    let state = DeployNotice(host: nil, step: "state", status: .info, message: "switch → smoke")

    @Test func theDefaultLeavesOutPassingGateSamplesAndKeepsAFailingOneWhole() {
        var d = ProgressDigest(level: .normal, hostCount: 3)
        #expect(d.take(gate("h1", ok: true)).isEmpty)
        let failing = gate("h2", ok: false, "GET http://h2:8080/health/ready → 503: db down")
        #expect(d.take(failing).map(\.message) == [failing.message])
        // A few hosts: one line per host and step, as they come.
        #expect(d.take(step("h1", "switch")).count == 1)
        #expect(d.take(state).count == 1)
        #expect(d.flush().isEmpty)
    }

    @Test func pastTheThresholdAStepIsOneLineWhenThePhaseMovesOn() {
        var d = ProgressDigest(level: .normal, hostCount: 200, summarizeAbove: 10)
        var printed: [DeployNotice] = []
        for i in 1...200 {
            printed += d.take(step("web-\(i)", "switch", ok: i != 17 && i != 90, seconds: i == 5 ? 2.5 : 0.1))
        }
        // Each failure printed whole as it happened, nothing else yet.
        #expect(printed.map(\.host) == ["web-17", "web-90"])
        let next = d.take(state)
        #expect(next.count == 2)
        #expect(next[0].step == "switch" && next[0].status == .failed && next[0].host == nil)
        #expect(
            next[0].message
                == "198/200 host(s) ok, slowest web-5 2.50s; failed: web-17 (exit 3: boom), web-90 (exit 3: boom)")
        #expect(next[1].step == "state")
        #expect(d.flush().isEmpty)
        // A failing gate sample is printed, and not counted as a failed step of its host.
        let sample = gate("web-3", ok: false, "503")
        #expect(d.take(sample).map(\.message) == [sample.message])
        #expect(d.take(gate("web-4", ok: true)).isEmpty)
        #expect(d.flush().isEmpty)
        // What hosts said in their ok lines is kept, each text once.
        _ = d.take(DeployNotice(host: "web-1", step: "switch", status: .ok, message: "role worker KILLed after 5 s"))
        _ = d.take(DeployNotice(host: "web-2", step: "switch", status: .ok, message: "role worker KILLed after 5 s"))
        _ = d.take(DeployNotice(host: "web-3", step: "switch", status: .ok, message: "port handed over in 12 ms"))
        #expect(
            d.flush().map(\.message)
                == ["3/3 host(s) ok; said: role worker KILLed after 5 s (2 host(s)); port handed over in 12 ms (web-3)"]
        )
        // All well: an ok line; more than ten failures: ten named, the rest counted.
        for i in 1...30 { _ = d.take(step("web-\(i)", "smoke", ok: i > 12)) }
        let end = d.flush()
        #expect(end.count == 1 && end[0].message.hasSuffix("web-10 (exit 3: boom) and 2 more"), "\(end)")
    }

    @Test func quietKeepsFailuresOnlyAndVerboseEverything() {
        var q = ProgressDigest(level: .quiet, hostCount: 3)
        #expect(q.take(gate("h1", ok: true)).isEmpty)
        #expect(q.take(state).isEmpty)
        #expect(q.take(step("h1", "switch")).isEmpty)
        #expect(q.take(step("h1", "switch", ok: false)).count == 1)
        var v = ProgressDigest(level: .verbose, hostCount: 300)
        #expect(v.take(gate("h1", ok: true)).count == 1)
        #expect(v.take(step("h1", "switch")).count == 1)
        #expect(v.flush().isEmpty)
    }

    @Test func aBakeSumsUpEveryGatesSamples() {
        let gates = [
            RolloutGate(name: "health", kind: .health),
            RolloutGate(name: "http", kind: .http(url: "http://{host}/m", json: "error_ratio", max: 0.1)),
        ]
        var t = GateTally(gates: gates)
        for v in [0.01, 0.02, 0.005] {
            t.add(round: [
                GateSample(gate: "health", type: "health", ok: v != 0.02, host: "h1", detail: ""),
                GateSample(gate: "http", type: "http", ok: true, value: v, host: "h1", detail: ""),
            ])
        }
        #expect(
            t.summary(hosts: 1) == "3 sample(s) on 1 host(s), health 1/3 failed, http 0/3 failed, max error_ratio 0.02")
    }
}

/// The pipeline summary's chart: phases and host lanes in Mermaid's gantt syntax, names that
/// Mermaid would read as syntax made plain, lanes capped.
@Suite("output: the run as a Mermaid gantt chart")
struct RunGanttTests {
    @Test func phasesAndHostLanesWithFailuresMarked() {
        var g = RunGantt()
        let t0 = Date(timeIntervalSince1970: 1_800_000_000)
        g.add(DeployNotice(host: nil, step: "state", status: .info, message: "pending → preflight", time: t0))
        g.add(DeployNotice(host: "h1", step: "preflight", status: .ok, message: "", seconds: 0.5, time: t0 + 0.5))
        g.add(DeployNotice(host: nil, step: "state", status: .info, message: "preflight → smokeTest", time: t0 + 1))
        g.add(
            DeployNotice(
                host: "::1", step: "smoke test", status: .failed, message: "503", seconds: 1, time: t0 + 2))
        g.add(DeployNotice(host: nil, step: "state", status: .info, message: "smokeTest → failed", time: t0 + 2))
        #expect(
            g.markdown(title: "deploy of app v2: rolled-back #1")
                == """
                ```mermaid
                gantt
                  title deploy of app v2  rolled-back  1
                  dateFormat x
                  axisFormat %H:%M:%S
                  section run
                  preflight :1800000000000, 1800000001000
                  smokeTest :1800000001000, 1800000002000
                  section h1
                  preflight :1800000000000, 1800000000500
                  section 1
                  smoke test :crit, 1800000001000, 1800000002000
                ```

                """)
        // Gate samples are not drawn; a host name Mermaid would read as syntax stays inside its line.
        var odd = RunGantt()
        odd.add(DeployNotice(host: "h1", step: "gate", status: .ok, message: "health: ok", seconds: 0.1, time: t0))
        odd.add(
            DeployNotice(host: "h`x\n```\n# y", step: "switch", status: .ok, message: "", seconds: 0.1, time: t0))
        let oddMD = odd.markdown(title: "t")
        #expect(
            !oddMD.contains("gate") && oddMD.contains("  section h x") && oddMD.contains(" y\n  switch :"), "\(oddMD)")
        #expect(oddMD.components(separatedBy: "```").count == 3, "only the block's own fences: \(oddMD)")
        var many = RunGantt()
        many.maxLanes = 2
        for i in 1...5 {
            many.add(DeployNotice(host: "h\(i)", step: "switch", status: .ok, message: "", seconds: 0.1, time: t0))
        }
        let md = many.markdown(title: "t")
        #expect(md.contains("section h2") && !md.contains("section h3") && md.contains("section 3 more host(s)"))
        #expect(RunGantt().markdown(title: "t") == "")
    }
}
