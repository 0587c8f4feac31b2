import Foundation
import Testing

@testable import ShipitCore

@Suite("rollout: machine, step plan, config")
struct RolloutUnitTests {
    private func machine(steps: Int, bake: Bool, pauseAfter: Int? = nil, warm: Bool = false) -> DeployStateMachine {
        DeployStateMachine(warmStandby: warm, rollout: .init(steps: steps, bake: bake, pauseAfter: pauseAfter))
    }

    @Test func eachStepSwitchesSmokeTestsAndBakesThenTheNext() throws {
        var m = machine(steps: 3, bake: true)
        var phases: [DeployPhase] = []
        var steps: [Int] = []
        for e in [DeployEvent.start] + Array(repeating: .phaseSucceeded, count: 12) {
            phases.append(try m.handle(e))
            steps.append(m.step)
            if m.phase.isTerminal { break }
        }
        #expect(
            phases == [
                .preflight, .upload, .migrate, .switch, .smokeTest, .bake, .switch, .smokeTest, .bake, .switch,
                .smokeTest, .bake, .succeeded,
            ])
        #expect(steps == [0, 0, 0, 0, 0, 0, 1, 1, 1, 2, 2, 2, 2])
    }

    @Test func withTheTrafficSwitchEachStepWarmsUpFirstAndWithoutBakeGoesStraightOn() throws {
        var m = machine(steps: 2, bake: false, warm: true)
        let phases = try ([DeployEvent.start] + Array(repeating: .phaseSucceeded, count: 9)).map { try m.handle($0) }
            .prefix { !$0.isTerminal }
        #expect(
            Array(phases) == [.preflight, .upload, .migrate, .warm, .switch, .smokeTest, .warm, .switch, .smokeTest])
        #expect(m.phase == .succeeded)
    }

    @Test func aFailureInALaterStepRollsBackWhatSwitchedBefore() throws {
        // Bake of step 1 fails: roll back.
        var a = machine(steps: 3, bake: true)
        for e in [DeployEvent.start] + Array(repeating: .phaseSucceeded, count: 5) { try a.handle(e) }
        #expect(a.phase == .bake)
        #expect(try a.handle(.phaseFailed(anySwitched: true)) == .rollingBack)
        // Step 2's warm-up fails: step 1's hosts serve the release, so roll back (in step 1 the
        // same failure touched no user: failed).
        var b = machine(steps: 2, bake: true, warm: true)
        for e in [DeployEvent.start] + Array(repeating: .phaseSucceeded, count: 7) { try b.handle(e) }
        #expect(b.phase == .warm && b.step == 1)
        #expect(try b.handle(.phaseFailed(anySwitched: true)) == .rollingBack)
        var c = machine(steps: 2, bake: true, warm: true)
        for e in [DeployEvent.start] + Array(repeating: .phaseSucceeded, count: 3) { try c.handle(e) }
        #expect(c.phase == .warm && c.step == 0)
        #expect(try c.handle(.phaseFailed(anySwitched: false)) == .failed)
        // A signal during a bake rolls back too.
        var d = machine(steps: 2, bake: true)
        for e in [DeployEvent.start] + Array(repeating: .phaseSucceeded, count: 5) { try d.handle(e) }
        #expect(try d.handle(.interrupted(anySwitched: true)) == .rollingBack)
    }

    @Test func pauseAfterAStepIsTerminalAndResumesWithTheNextStep() throws {
        var m = machine(steps: 3, bake: true, pauseAfter: 1)
        for e in [DeployEvent.start] + Array(repeating: .phaseSucceeded, count: 6) { try m.handle(e) }
        #expect(m.phase == .paused && m.phase.isTerminal && m.step == 0)
        var r = DeployStateMachine.resuming(.promote, afterStep: 1, warmStandby: false, rollout: m.rollout)
        #expect(r.phase == .pending && r.step == 1)
        #expect(try r.handle(.start) == .preflight)
        #expect(try r.handle(.phaseSucceeded) == .switch)
        #expect(try r.handle(.phaseSucceeded) == .smokeTest)
        #expect(try r.handle(.phaseSucceeded) == .bake)
        #expect(try r.handle(.phaseSucceeded) == .switch)
        #expect(r.step == 2)
        // Abort: pre-flight, then the rollback of what steps 1..n switched; a pre-flight that
        // fails leaves it paused.
        var a = DeployStateMachine.resuming(.abort, afterStep: 2, warmStandby: true, rollout: m.rollout)
        #expect(a.step == 1)
        #expect(try a.handle(.start) == .preflight)
        #expect(try a.handle(.phaseSucceeded) == .rollingBack)
        var p = DeployStateMachine.resuming(.promote, afterStep: 1, warmStandby: true, rollout: m.rollout)
        #expect(try p.handle(.start) == .preflight)
        #expect(try p.handle(.phaseFailed(anySwitched: true)) == .paused)
        // Pausing after the last step is just success.
        var last = machine(steps: 1, bake: false, pauseAfter: 1)
        for e in [DeployEvent.start] + Array(repeating: .phaseSucceeded, count: 5) { try last.handle(e) }
        #expect(last.phase == .succeeded)
    }

    @Test func stepsCoverEveryHostOnceInConfigOrder() throws {
        let hosts = (1...10).map { "h\($0)" }
        var r = RolloutSettings(steps: [.count(1), .percent(50), .percent(100)])
        #expect(r.plan(hosts: hosts) == [["h1"], ["h2", "h3", "h4", "h5"], ["h6", "h7", "h8", "h9", "h10"]])
        // Percentages round up; targets that add nobody merge away; a last step short of the
        // fleet gets the rest.
        r.steps = [.percent(10), .percent(12), .count(3)]
        #expect(r.plan(hosts: ["a", "b", "c", "d"]) == [["a"], ["b", "c"], ["d"]])
        #expect(r.plan(hosts: ["a"]) == [["a"]])
        #expect(
            try RolloutSettings.parseSteps("1, 50%,100%", field: "--steps") == [.count(1), .percent(50), .percent(100)])
        for bad in ["0", "1,1", "50%,20%", "x", "150%", ""] {
            #expect(throws: ShipitError.self, "\(bad)") { try RolloutSettings.parseSteps(bad, field: "--steps") }
        }
    }

    private func load(_ rollout: String) throws -> DeployConfig {
        try DeployConfig.parse(
            yaml: "app: a\nhosts: [h1, h2]\ndeploy_to: /srv/a\nstart: sh start.sh\nhealth: {port: 8080}\n\(rollout)\n",
            directory: NSTemporaryDirectory() + "ro-\(UUID().uuidString.prefix(8))")
    }

    @Test func gatesParseAndBadOnesAreRefusedNamingTheField() throws {
        let c = try load(
            """
            rollout:
              steps: [1, "100%"]
              bake: 30
              interval: 2
              pause_after: 1
              gates:
                - {type: health, failure_limit: 1}
                - {type: http, url: "http://{host}:8080/metrics.json", json: error_ratio, max: 0.05}
                - {type: command, run: "test -f ok", timeout: 3}
                - {type: prometheus, url: "http://127.0.0.1:9090", query: "sum(rate(x[1m]))", max: 0.1, on_empty: pass, name: errors}
            """)
        let r = try #require(c.rollout)
        #expect(r.steps == [.count(1), .percent(100)] && r.bake == 30 && r.interval == 2 && r.pauseAfter == 1)
        #expect(r.gates.map(\.name) == ["health", "http", "command", "errors"])
        #expect(r.gates[0].failureLimit == 1)
        #expect(r.gates[1].kind == .http(url: "http://{host}:8080/metrics.json", json: "error_ratio", max: 0.05))
        #expect(
            r.gates[3].kind
                == .prometheus(url: "http://127.0.0.1:9090", query: "sum(rate(x[1m]))", max: 0.1, emptyPasses: true))
        // No gates: the bake watches health.
        #expect(try load("rollout: {steps: [1]}").rollout?.gates.map(\.type) == ["health"])

        for (yaml, field) in [
            ("rollout: {steps: [0]}", "rollout.steps"), ("rollout: {steps: [2, 1]}", "rollout.steps"),
            ("rollout: {bake: 3}", "rollout"),
            ("rollout: {steps: [1], gates: [{type: smtp}]}", "rollout.gates[0].type"),
            (
                "rollout: {steps: [1], gates: [{type: prometheus, url: 'ftp://x', query: q, max: 1}]}",
                "rollout.gates[0].url"
            ),
            ("rollout: {steps: [1], gates: [{type: http, url: 'http://x', json: a}]}", "rollout.gates[0]"),
            ("rollout: {steps: [1], gates: [{type: health}, {type: health}]}", "rollout.gates"),
            ("rollout: {steps: [1], colour: red}", "rollout"),
        ] {
            do {
                _ = try load(yaml)
                Issue.record("accepted: \(yaml)")
            } catch let e as ShipitError {
                #expect(e.message.contains(field), "\(yaml): \(e.message)")
                #expect(e.exitCode == .usage)
            }
        }
    }

    @Test func prometheusQueriesGetTheSwitchedHostsAsARegex() throws {
        let c = GateRunner.Context(switched: ["127.0.0.11", "web-2"], stepHosts: ["web-2"], step: 2, steps: 3)
        #expect(
            GateRunner.substitute(#"rate(x{instance=~"{hosts}"}[1m])"#, c)
                == #"rate(x{instance=~"(127\\.0\\.0\\.11|web-2)(:[0-9]+)?"}[1m])"#)
        #expect(GateRunner.substitute(#"{instance=~"{step_hosts}"}"#, c) == #"{instance=~"(web-2)(:[0-9]+)?"}"#)
        // An ssh_config alias is known to Prometheus by its address.
        #expect(
            GateRunner.substitute(#"{instance=~"{step_hosts}"}"#, c, addresses: ["web-2": "10.0.0.2"])
                == #"{instance=~"(10\\.0\\.0\\.2)(:[0-9]+)?"}"#)
        func json(_ text: String) throws -> JSONValue { try #require(JSONValue.parse(text)) }
        #expect(
            DeployerHTTP.number(
                in: try json(#"{"data":{"result":[{"value":[1.0,"0.25"]}]}}"#), at: "data.result.0.value.1") == 0.25)
        #expect(DeployerHTTP.number(in: try json(#"{"a":{"b":0}}"#), at: "a.b") == 0)
        #expect(DeployerHTTP.number(in: try json(#"{"a":"x"}"#), at: "a") == nil)
        #expect(DeployerHTTP.number(in: try json(#"{"a":1}"#), at: "a.b") == nil)
        #expect(DeployerHTTP.number(in: try json(#"[{"n":-2.5e1}]"#), at: "0.n") == -25)
    }
}
