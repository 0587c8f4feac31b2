import ShipitCore
import Testing

@Suite("deploy state machine transitions")
struct DeployStateMachineTests {
    private func run(_ events: [DeployEvent], autoRollback: Bool = true) throws -> [DeployPhase] {
        var m = DeployStateMachine(autoRollback: autoRollback)
        return try events.map { try m.handle($0) }
    }

    @Test func happyPath() throws {
        #expect(try run([.start, .phaseSucceeded, .phaseSucceeded, .phaseSucceeded, .phaseSucceeded])
                == [.preflight, .upload, .switch, .smokeTest, .succeeded])
    }

    @Test func failuresBeforeTheSwitchNeedNoRollback() throws {
        #expect(try run([.start, .phaseFailed(anySwitched: false)]) == [.preflight, .failed])
        #expect(try run([.start, .phaseSucceeded, .phaseFailed(anySwitched: false)]) == [.preflight, .upload, .failed])
        #expect(try run([.start, .phaseSucceeded, .interrupted(anySwitched: false)]) == [.preflight, .upload, .failed])
    }

    @Test func switchFailureRollsBackOnlyIfSomethingSwitched() throws {
        #expect(try run([.start, .phaseSucceeded, .phaseSucceeded, .phaseFailed(anySwitched: true)]).last == .rollingBack)
        #expect(try run([.start, .phaseSucceeded, .phaseSucceeded, .phaseFailed(anySwitched: false)]).last == .failed)
    }

    @Test func smokeTestFailureRollsBackAndRollbackCanFail() throws {
        let base: [DeployEvent] = [.start, .phaseSucceeded, .phaseSucceeded, .phaseSucceeded, .phaseFailed(anySwitched: true)]
        #expect(try run(base).last == .rollingBack)
        #expect(try run(base + [.phaseSucceeded]).last == .rolledBack)
        #expect(try run(base + [.phaseFailed(anySwitched: true)]).last == .rollbackFailed)
        // A second signal does not stop a rollback.
        #expect(try run(base + [.interrupted(anySwitched: true), .phaseSucceeded]).suffix(2) == [.rollingBack, .rolledBack])
    }

    @Test func noRollbackLeavesTheHostsAndFails() throws {
        #expect(try run([.start, .phaseSucceeded, .phaseSucceeded, .phaseSucceeded, .phaseFailed(anySwitched: true)], autoRollback: false).last == .failed)
    }

    @Test func interruptAfterSwitchRollsBack() throws {
        #expect(try run([.start, .phaseSucceeded, .phaseSucceeded, .phaseSucceeded, .interrupted(anySwitched: true)]).last == .rollingBack)
    }

    @Test func terminalStatesAcceptNothing() {
        var m = DeployStateMachine()
        #expect(throws: DeployStateMachine.TransitionError.self) { try m.handle(.phaseSucceeded) }
        #expect(throws: (any Error).self) {
            _ = try DeployStateMachine.next(from: .succeeded, on: .phaseFailed(anySwitched: true), autoRollback: true)
        }
    }
}
