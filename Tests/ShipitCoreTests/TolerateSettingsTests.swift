import Foundation
import ShipitCore
import TestSupport
import Testing

/// `tolerate: {unreachable: N | "N%"}`: parsing, the budget, and which hosts a run leaves out.
@Suite("tolerate: unreachable hosts")
struct TolerateSettingsTests {
    func parse(_ yaml: String) throws -> DeployConfig {
        try DeployConfig.parse(
            yaml: "app: web\nhosts: [a, b, c, d]\ndeploy_to: /srv/web\nstart: sh start.sh\n" + yaml, directory: "/tmp")
    }

    @Test func countsAndPercentagesOfTheRunsHosts() throws {
        #expect(try parse("").tolerate.unreachableAllowed(of: 10) == 0)
        #expect(try parse("tolerate: {unreachable: 2}").tolerate.unreachableAllowed(of: 10) == 2)
        #expect(try parse("tolerate: {unreachable: 2}").tolerate.unreachableAllowed(of: 1) == 1)
        #expect(try parse("tolerate: {unreachable: '10%'}").tolerate.unreachableAllowed(of: 200) == 20)
        #expect(try parse("tolerate: {unreachable: '10%'}").tolerate.unreachableAllowed(of: 9) == 0)
        #expect(try parse("tolerate: {unreachable: 12.5%}").tolerate.unreachableAllowed(of: 16) == 2)
    }

    @Test(arguments: [
        ("tolerate: {unreachable: -1}", "tolerate.unreachable"),
        ("tolerate: {unreachable: '101%'}", "tolerate.unreachable"),
        ("tolerate: {unreachable: lots}", "tolerate.unreachable"),
        ("tolerate: {dead: 1}", "tolerate.dead: unknown key"),
    ])
    func badValuesNameTheField(_ yaml: String, _ field: String) {
        #expect(throws: ShipitError.self) { try parse(yaml) }
        do { _ = try parse(yaml) } catch { #expect("\(error)".contains(field), "\(error)") }
    }

    @Test func withinTheBudgetTheUnreachableAreLeftOutElseEveryHostStays() throws {
        let t = try parse("tolerate: {unreachable: 1}").tolerate
        let hosts = ["a", "b", "c", "d"]
        #expect(t.decide(hosts: hosts, unreachable: [:], mustReach: []) == .keepAll(why: nil))
        #expect(
            t.decide(hosts: hosts, unreachable: ["c": "connect: refused"], mustReach: [])
                == .leaveOut([SkippedHost(host: "c", reason: "connect: refused")]))
        guard case .keepAll(let over?) = t.decide(hosts: hosts, unreachable: ["b": "x", "c": "y"], mustReach: [])
        else { throw TestFailure("two down with a budget of one must keep every host") }
        #expect(over.contains("2 host(s) unreachable, over tolerate.unreachable 1 (1 of 4): b (x), c (y)"), "\(over)")
        guard case .keepAll(let migration?) = t.decide(hosts: hosts, unreachable: ["a": "x"], mustReach: ["a"])
        else { throw TestFailure("the migration host cannot be left out") }
        #expect(migration.contains("a runs the migrations"))
        let all = try parse("tolerate: {unreachable: '100%'}").tolerate
        guard
            case .keepAll(let none?) = all.decide(
                hosts: hosts, unreachable: ["a": "x", "b": "x", "c": "x", "d": "x"], mustReach: [])
        else { throw TestFailure("a run with no host reached is no run") }
        #expect(none.hasPrefix("no host could be reached"))
    }
}

/// `shipit sync`'s plan: who is behind, who is left alone, and the fleet's release.
@Suite("sync: the plan")
struct SyncPlanTests {
    func host(_ name: String, _ current: String?, reachable: Bool = true) -> HostInspection {
        var h = HostInspection(host: name, reachable: reachable, error: reachable ? nil : "connect: refused")
        h.current = current
        return h
    }

    @Test func behindForeignUnreachableAndOnTarget() {
        let hosts = [
            host("a", "r2"), host("b", "r1"), host("c", nil), host("d", "hand"), host("e", "r1", reachable: false),
        ]
        let p = SyncPlan.make(target: "r2", hosts: hosts, known: ["r1", "r2"], force: false)
        #expect(p.onTarget == ["a"] && p.behind == ["b", "c"] && p.donor == "a")
        #expect(p.foreign == [SyncPlan.Foreign(host: "d", release: "hand")])
        #expect(p.unreachable == ["e": "connect: refused"])
        let forced = SyncPlan.make(target: "r2", hosts: hosts, known: ["r1", "r2"], force: true)
        #expect(forced.behind == ["b", "c", "d"] && forced.foreign.isEmpty)
    }

    @Test func anEnvironmentFileReadsBackAsWritten() throws {
        let env = ReleaseEnvironment([
            .init(name: "A", value: "plain", secret: false),
            .init(name: "B", value: "it's a\nmulti line 'one'", secret: true),
            .init(name: "C", value: "safe_chars-1.2", secret: true),
        ])
        let back = try #require(ReleaseEnvironment(shellFile: env.shellFile, plain: ["A"]))
        #expect(back == env)
        #expect(ReleaseEnvironment(shellFile: "A=$(id)\n", plain: []) == nil)
        #expect(ReleaseEnvironment(shellFile: "not a line\n", plain: []) == nil)
    }
}
