import Foundation
import TestSupport
import Testing

@testable import ShipitCore

/// The run's state as the driver keeps it: what each request starts from, and the changes a phase
/// returns, applied in order, giving the same state as the phase's own copy.
@Suite("deploy run state (changes applied by the driver)")
struct DeployRunTests {
    let hosts = ["h1", "h2"]

    @Test func eachRequestStartsFromWhatItKnows() {
        let deploy = DeployRun(hosts: hosts, request: .deploy(.imageTag("v2")))
        #expect(deploy.targetID == "v2" && deploy.release == nil && deploy.rollbackTo == nil)
        let rollback = DeployRun(hosts: hosts, request: .rollback(to: "r1"))
        #expect(rollback.targetID == "r1" && rollback.provisionalID == nil)
        #expect(DeployRun(hosts: hosts, request: .rollback(to: nil)).targetID == "")
        #expect(deploy.stepHosts == hosts)
    }

    @Test func aPhasesChangesAppliedByTheDriverGiveThePhasesOwnView() throws {
        let before = DeployRun(hosts: hosts, request: .deploy(.imageTag("v2")))
        var phase = PhaseRun(try context(), before)
        let switchedAt = Date(timeIntervalSince1970: 1_700_000_000)
        phase.apply(.found("h1", current: "v1"))
        phase.apply(.found("h2", current: "v1"))
        phase.apply(.locked("h1"))
        phase.apply(.release(ResolvedRelease(id: "v2", input: .imageTag("v2"))))
        phase.apply(.switched("h1", to: "v2", slot: nil, at: switchedAt))
        phase.apply(.switchUnknown("h2", to: "v2"))
        phase.apply(.hostFailed("h2", step: "switch", error: "connection lost"))
        phase.apply(.explainUnknown("h2"))
        phase.apply(.forbidRollback)
        let result = phase.finish(.failed)
        // The driver's copy did not move until it applied the result.
        #expect(before.hosts.switchedHosts.isEmpty && before.release == nil)
        var driven = before
        for change in result.changes { driven.apply(change) }
        #expect(result.outcome == .failed && result.changes.count == 9)
        #expect(hosts.map { driven.hosts.ledgerState($0) } == hosts.map { phase.run.hosts.ledgerState($0) })
        #expect(driven.hosts.switchedHosts == ["h1", "h2"])
        #expect(driven.hosts["h1"]?.switchedAt == switchedAt && driven.hosts.locked == ["h1"])
        #expect(driven.hosts["h2"]?.error == "connection lost; outcome unknown: on v1 or v2")
        #expect(driven.release?.id == "v2" && driven.targetID == "v2" && !driven.machine.autoRollback)
    }

    func context() throws -> DeployContext {
        let dir = Local.tempDir("run-state")
        try "app: a\nhosts: [h1, h2]\ndeploy_to: /srv/a\nstart: sh start.sh\n".write(
            toFile: dir + "/shipit.yml", atomically: true, encoding: .utf8)
        let config = try DeployConfig.load(file: dir + "/shipit.yml")
        return Deployment(config: config, transport: FakeTransport(hosts: hosts), notify: { _ in }).context(
            .deploy(.imageTag("v2")))
    }
}
