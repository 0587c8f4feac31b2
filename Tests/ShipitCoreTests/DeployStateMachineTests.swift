import ShipitCore
import Testing

@Suite("deploy state machine transitions")
struct DeployStateMachineTests {
    private func run(_ events: [DeployEvent], autoRollback: Bool = true) throws -> [DeployPhase] {
        var m = DeployStateMachine(autoRollback: autoRollback)
        return try events.map { try m.handle($0) }
    }

    /// Events that take a fresh machine to `phase` (pending → preflight → upload → migrate → switch → smokeTest).
    private func to(_ phase: DeployPhase) -> [DeployEvent] {
        let order: [DeployPhase] = [.preflight, .upload, .migrate, .switch, .smokeTest]
        return [.start] + Array(repeating: .phaseSucceeded, count: order.firstIndex(of: phase)!)
    }

    @Test func happyPath() throws {
        #expect(
            try run(to(.smokeTest) + [.phaseSucceeded]) == [
                .preflight, .upload, .migrate, .switch, .smokeTest, .succeeded,
            ])
    }

    @Test func failuresBeforeTheSwitchNeedNoRollback() throws {
        #expect(try run([.start, .phaseFailed(anySwitched: false)]) == [.preflight, .failed])
        #expect(try run(to(.upload) + [.phaseFailed(anySwitched: false)]).last == .failed)
        #expect(try run(to(.upload) + [.interrupted(anySwitched: false)]).last == .failed)
        // A failed migration stops the deploy before any switch.
        #expect(try run(to(.migrate) + [.phaseFailed(anySwitched: false)]) == [.preflight, .upload, .migrate, .failed])
        #expect(try run(to(.migrate) + [.interrupted(anySwitched: false)]).last == .failed)
    }

    @Test func switchFailureRollsBackOnlyIfSomethingSwitched() throws {
        #expect(try run(to(.switch) + [.phaseFailed(anySwitched: true)]).last == .rollingBack)
        #expect(try run(to(.switch) + [.phaseFailed(anySwitched: false)]).last == .failed)
    }

    @Test func smokeTestFailureRollsBackAndRollbackCanFail() throws {
        let base = to(.smokeTest) + [.phaseFailed(anySwitched: true)]
        #expect(try run(base).last == .rollingBack)
        #expect(try run(base + [.phaseSucceeded]).last == .rolledBack)
        #expect(try run(base + [.phaseFailed(anySwitched: true)]).last == .rollbackFailed)
        // A signal does not stop a rollback: the run never reports one there, and the machine has
        // no such transition.
        #expect(throws: DeployStateMachine.TransitionError.self) { try run(base + [.interrupted(anySwitched: true)]) }
    }

    @Test func noRollbackLeavesTheHostsAndFails() throws {
        #expect(try run(to(.smokeTest) + [.phaseFailed(anySwitched: true)], autoRollback: false).last == .failed)
    }

    @Test func aContractMigrationForbidsTheAutomaticRollback() throws {
        var m = DeployStateMachine()
        for e in to(.switch) { try m.handle(e) }
        m.forbidRollback()
        #expect(try m.handle(.phaseSucceeded) == .smokeTest)
        #expect(try m.handle(.phaseFailed(anySwitched: true)) == .failed)
    }

    @Test func interruptAfterSwitchRollsBack() throws {
        #expect(try run(to(.smokeTest) + [.interrupted(anySwitched: true)]).last == .rollingBack)
    }

    @Test func terminalStatesAcceptNothing() {
        var m = DeployStateMachine()
        #expect(throws: DeployStateMachine.TransitionError.self) { try m.handle(.phaseSucceeded) }
        #expect(throws: (any Error).self) {
            _ = try DeployStateMachine.next(from: .succeeded, on: .phaseFailed(anySwitched: true), autoRollback: true)
        }
    }

    @Test func theTrafficSwitchWarmsUpBeforeTheSwitchAndAWarmUpFailureSwitchedNothing() throws {
        var m = DeployStateMachine(warmStandby: true)
        let deploy = try [
            DeployEvent.start, .phaseSucceeded, .phaseSucceeded, .phaseSucceeded, .phaseSucceeded, .phaseSucceeded,
            .phaseSucceeded,
        ].map { try m.handle($0) }
        #expect(deploy == [.preflight, .upload, .migrate, .warm, .switch, .smokeTest, .succeeded])
        var f = DeployStateMachine(warmStandby: true)
        for e in [DeployEvent.start, .phaseSucceeded, .phaseSucceeded, .phaseSucceeded] { try f.handle(e) }
        #expect(f.phase == .warm)
        #expect(try f.handle(.phaseFailed(anySwitched: false)) == .failed)
        var i = DeployStateMachine(warmStandby: true)
        for e in [DeployEvent.start, .phaseSucceeded, .phaseSucceeded, .phaseSucceeded] { try i.handle(e) }
        #expect(try i.handle(.interrupted(anySwitched: false)) == .failed)
        // Without the traffic switch there is no warm phase at all.
        #expect(throws: DeployStateMachine.TransitionError.self) {
            _ = try DeployStateMachine.next(from: .warm, on: .phaseSucceeded, autoRollback: true, warmStandby: false)
        }
    }

    @Test func aManualRollbackHasNoUploadAndNoMigration() throws {
        var r = DeployStateMachine(operation: .rollback)
        #expect(
            try [DeployEvent.start, .phaseSucceeded, .phaseSucceeded, .phaseSucceeded].map { try r.handle($0) } == [
                .preflight, .switch, .smokeTest, .succeeded,
            ])
        var w = DeployStateMachine(operation: .rollback, warmStandby: true)
        #expect(
            try [DeployEvent.start, .phaseSucceeded, .phaseSucceeded].map { try w.handle($0) } == [
                .preflight, .warm, .switch,
            ])
        #expect(throws: DeployStateMachine.TransitionError.self) {
            _ = try DeployStateMachine.next(
                from: .upload, on: .phaseSucceeded, operation: .rollback, autoRollback: true)
        }
    }

    /// The transition text the state notices and the ledger carry reads back as its two phases,
    /// for every pair; other text is none.
    @Test func aTransitionsTextReadsBack() {
        for from in DeployPhase.allCases {
            for to in DeployPhase.allCases {
                let back = DeployPhase.transition(in: DeployPhase.transition(from, to))
                #expect(back?.from == from && back?.to == to)
            }
        }
        #expect(DeployPhase.transition(in: "preflight → smoke") == nil)
        #expect(DeployPhase.transition(in: "preflight") == nil)
        #expect(
            DeployNotice(host: nil, step: "state", status: .info, message: "bake → succeeded").enteredPhase
                == .succeeded)
        #expect(DeployNotice(host: "h1", step: "switch", status: .ok, message: "bake → succeeded").enteredPhase == nil)
    }
}
