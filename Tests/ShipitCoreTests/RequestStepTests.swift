import Foundation
import Testing

@testable import ShipitCore

/// Request steps as data: the config (steps, stickiness, the proxy gate) and its refusals, the
/// plan, the state machine's path through them, and a paused run's plan read back from its events.
@Suite("request steps: config, plan, transitions")
struct RequestStepTests {
    private func load(_ rollout: String, traffic: String? = "traffic: {proxy: nginx}") throws -> DeployConfig {
        try DeployConfig.parse(
            yaml:
                "app: a\nhosts: [h1, h2, h3]\ndeploy_to: /srv/a\nstart: sh start.sh\nhealth: {port: 8080}\n\(traffic ?? "")\n\(rollout)\n",
            directory: NSTemporaryDirectory() + "rs-\(UUID().uuidString.prefix(8))")
    }

    private func refused(_ rollout: String, traffic: String? = "traffic: {proxy: nginx}", saying part: String) {
        do {
            _ = try load(rollout, traffic: traffic)
            Issue.record("accepted: \(rollout)")
        } catch let e as ShipitError {
            #expect(e.message.contains(part), "\(e.message)")
        } catch { Issue.record("\(error)") }
    }

    @Test func requestStepsParseAloneOrAfterHostStepsWithStickinessAndAProxyGate() throws {
        let c = try load(
            """
            rollout:
              steps: [1, {requests: 10%}, {requests: 50%}, "100%"]
              bake: 5
              sticky: {header: X-User-Id}
              gates:
                - {type: proxy, max_error_ratio: 0.02, max_error_ratio_increase: 0.01, max_p95_ratio: 1.5, min_requests: 40, too_few: fail, extend_max: 60}
            """)
        let r = try #require(c.rollout)
        #expect(r.steps == [.count(1), .requests(10), .requests(50), .percent(100)])
        #expect(r.sticky == .header("X-User-Id"))
        var limits = ProxyVerdict.Limits()
        limits.maxErrorRatio = 0.02
        limits.maxErrorRatioIncrease = 0.01
        limits.maxP95Ratio = 1.5
        limits.minRequests = 40
        #expect(r.gates.first?.kind == .proxy(limits, tooFew: .fail))
        #expect(r.gates.first?.extendMax == 60)
        // The hosts of the host step switch first; the request steps split the others' requests,
        // and the last step switches those.
        #expect(
            r.planSteps(hosts: ["h1", "h2", "h3"]) == [
                .init(hosts: ["h1"], share: nil), .init(hosts: ["h2", "h3"], share: 10),
                .init(hosts: ["h2", "h3"], share: 50), .init(hosts: ["h2", "h3"], share: nil),
            ])
        // Alone: every host is split, then switched (the final 100% is implied).
        let alone = try #require(try load("rollout: {steps: [{requests: 5%}]}").rollout)
        #expect(alone.sticky == .cookie)
        #expect(
            alone.planSteps(hosts: ["h1", "h2"]) == [
                .init(hosts: ["h1", "h2"], share: 5), .init(hosts: ["h1", "h2"], share: nil),
            ])
        #expect(alone.plan(hosts: ["h1", "h2"]) == [["h1", "h2"], ["h1", "h2"]])
        // The command line's spelling.
        #expect(
            try RolloutSettings.parseSteps("requests=10%,requests:25%,100%", field: "--steps") == [
                .requests(10), .requests(25), .percent(100),
            ])
    }

    @Test func badRequestStepsAreRefusedNamingTheField() {
        refused("rollout: {steps: [{requests: 10%}]}", traffic: nil, saying: "rollout.steps: request steps")
        refused(
            "rollout: {steps: [{requests: 10%}]}",
            traffic:
                "traffic: {proxy: nginx, mode: system, upstream_file: /etc/nginx/u.conf, test: 'nginx -t', reload: 'nginx -s reload'}",
            saying: "shipit's own nginx")
        refused("rollout: {steps: [{requests: 100%}]}", saying: "from 1% to 99%")
        refused("rollout: {steps: [{requests: 2.5%}]}", saying: "from 1% to 99%")
        refused("rollout: {steps: [{requests: 10%}, 2]}", saying: "only request steps or 100%")
        refused("rollout: {steps: [{requests: 20%}, {requests: 10%}]}", saying: "request shares must grow")
        refused("rollout: {steps: [{share: 10%}]}", saying: "unknown key")
        refused("rollout: {steps: [1], gates: [{type: proxy, max_error_ratio: 0.1}]}", saying: "has none")
        refused(
            "rollout: {steps: [{requests: 10%}], gates: [{type: proxy, min_requests: 10}]}",
            saying: "at least one of max_error_ratio")
        refused(
            "rollout: {steps: [{requests: 10%}], gates: [{type: proxy, max_error_ratio: 0.1, too_few: wait}]}",
            saying: "expected extend, fail or pass")
        refused("rollout: {steps: [1], gates: [{type: health, min_requests: 3}]}", saying: "only a proxy gate")
        refused("rollout: {steps: [{requests: 10%}], sticky: session}", saying: "cookie, address, none")
        for bad in ["requests=0%", "requests=100%", "requests=10", "requests=10%,1"] {
            #expect(throws: ShipitError.self, "\(bad)") { try RolloutSettings.parseSteps(bad, field: "--steps") }
        }
    }

    private func machine(requestSteps: Set<Int>, steps: Int, bake: Bool = true, pauseAfter: Int? = nil)
        -> DeployStateMachine
    {
        DeployStateMachine(
            warmStandby: true,
            rollout: .init(steps: steps, bake: bake, pauseAfter: pauseAfter, requestSteps: requestSteps))
    }

    @Test func requestStepsWarmOnceHaveNoSmokeTestOfTheirOwnAndEndWithTheSwitch() throws {
        // [{requests: 10%}, {requests: 50%}, 100%]
        var m = machine(requestSteps: [0, 1], steps: 3)
        var path: [DeployPhase] = []
        var steps: [Int] = []
        for _ in 0..<20 {
            path.append(try m.handle(path.isEmpty ? .start : .phaseSucceeded))
            steps.append(m.step)
            if m.phase.isTerminal { break }
        }
        #expect(
            path == [
                .preflight, .upload, .migrate, .warm, .switch, .bake, .switch, .bake, .switch, .smokeTest, .bake,
                .succeeded,
            ])
        #expect(steps == [0, 0, 0, 0, 0, 0, 1, 1, 2, 2, 2, 2])
        // Without a bake a request step goes straight on.
        var quick = machine(requestSteps: [0], steps: 2, bake: false)
        let q = try [DeployEvent](repeating: .phaseSucceeded, count: 6).reduce(into: [try quick.handle(.start)]) {
            $0.append(try quick.handle($1))
        }
        #expect(q == [.preflight, .upload, .migrate, .warm, .switch, .switch, .smokeTest])
        #expect(quick.step == 1)
    }

    @Test func aFailedRequestStepRollsBackAndAPausedOneResumesWithTheSwitch() throws {
        var m = machine(requestSteps: [0], steps: 2)
        for e in [DeployEvent.start] + Array(repeating: .phaseSucceeded, count: 5) {
            try m.handle(e)
        }
        #expect(m.phase == .bake)
        // The split counts as serving the new release: a failure rolls back.
        #expect(try m.handle(.phaseFailed(anySwitched: true)) == .rollingBack)

        var paused = machine(requestSteps: [0], steps: 2, pauseAfter: 1)
        for e in [DeployEvent.start] + Array(repeating: .phaseSucceeded, count: 5) {
            try paused.handle(e)
        }
        #expect(try paused.handle(.phaseSucceeded) == .paused)
        var promote = DeployStateMachine.resuming(
            .promote, afterStep: 1, warmStandby: true, rollout: .init(steps: 2, bake: true, requestSteps: [0]))
        #expect(try promote.handle(.start) == .preflight)
        // The hosts run the release warm already: straight to the switch.
        #expect(try promote.handle(.phaseSucceeded) == .switch)
        #expect(promote.step == 1)
        var abort = DeployStateMachine.resuming(
            .abort, afterStep: 1, warmStandby: true, rollout: .init(steps: 2, bake: true, requestSteps: [0]))
        try abort.handle(.start)
        #expect(try abort.handle(.phaseSucceeded) == .rollingBack)
    }

    @Test func aRunsPlanIsRecordedAndAPromoteTakesItsRequestStepsWhateverTheConfigSays() throws {
        let steps: [RolloutSettings.PlannedStep] = [
            .init(hosts: ["h1"], share: nil), .init(hosts: ["h2", "h3"], share: 10),
            .init(hosts: ["h2", "h3"], share: 25), .init(hosts: ["h2", "h3"], share: nil),
        ]
        let record = RolloutPlanRecord(steps: steps, sticky: .header("X-User"))
        let event = LedgerStep(
            attemptID: "a1", host: nil, step: "plan", status: "info", startedAt: Date(), message: record.json)
        #expect(RolloutPlanRecord.find(in: [event]) == record)
        #expect(record.targets == [.count(1), .requests(10), .requests(25), .count(3)])
        var attempt = LedgerAttempt(
            id: "a1", app: "a", stage: nil, strategy: "symlink", operation: "deploy", releaseID: "r2", user: "u",
            machine: "m", pid: 1, startedAt: Date())
        attempt.hosts = [LedgerHostState(host: "h1", rolloutStep: 1, switchedAt: Date())]
        #expect(Deployment.plannedSteps(of: attempt, order: ["h1", "h2", "h3"], events: [event]) == steps)
        // The config lost its request steps since (or they came from --steps): the promote has them.
        let config = try load("rollout: {steps: [1]}")
        let resumed = RolloutPlanRecord.resumedConfig(config, events: [event])
        #expect(resumed.rollout?.hasRequestSteps == true && resumed.rollout?.sticky == .header("X-User"))
        #expect(resumed.rollout?.planSteps(hosts: ["h1", "h2", "h3"]) == steps)
        #expect(Strategies.make(resumed).traffic?.split != nil && Strategies.make(config).traffic?.split == nil)
    }

    @Test func aPausedRunsPlanIsReadBackFromItsHostsAndItsRequestStepEvents() {
        func event(_ message: String) -> LedgerStep {
            LedgerStep(attemptID: "a1", host: nil, step: "rollout", status: "info", startedAt: Date(), message: message)
        }
        var attempt = LedgerAttempt(
            id: "a1", app: "a", stage: nil, strategy: "symlink", operation: "deploy", releaseID: "r2", user: "u",
            machine: "m", pid: 1, startedAt: Date())
        attempt.hosts = [
            LedgerHostState(host: "h1", rolloutStep: 1, switchedAt: Date()),
            LedgerHostState(host: "h2", rolloutStep: 4), LedgerHostState(host: "h3", rolloutStep: 4),
        ]
        let events = [
            event("step 1/4 starts: 1 host(s): h1"), event("step 2/4 starts: 10 % of requests on 2 host(s): h2, h3"),
            event("step 3/4 starts: 50 % of requests on 2 host(s): h2, h3"),
        ]
        #expect(Deployment.requestShares(in: events) == [2: 10, 3: 50])
        // Paused after (or died in) the request step of 50 %: its hosts switched nothing, the step's
        // event says where it got to.
        #expect(Deployment.pausedAfter(attempt, events: events) == 3)
        #expect(Deployment.pausedAfter(attempt, events: Array(events.prefix(1))) == 1)
        #expect(
            Deployment.plannedSteps(of: attempt, order: ["h1", "h2", "h3"], events: events) == [
                .init(hosts: ["h1"], share: nil), .init(hosts: ["h2", "h3"], share: 10),
                .init(hosts: ["h2", "h3"], share: 50), .init(hosts: ["h2", "h3"], share: nil),
            ])
    }
}
