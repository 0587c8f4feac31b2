/// The deploy state machine. Every transition lives here and nowhere else; the run
/// (`RunDriver`) asks it for the phase to run next, runs it, and reports how it went.
public enum DeployPhase: String, Sendable, Codable, CaseIterable {
    case pending, preflight, upload, migrate, warm, `switch`, smokeTest, bake, succeeded, failed, rollingBack,
        rolledBack, rollbackFailed
    /// A rollout stopped after a step, lock held, until `shipit rollout promote|abort`.
    case paused

    /// The run is over: nothing more runs on any host except the closing scripts.
    public var isTerminal: Bool { [.succeeded, .failed, .rolledBack, .rollbackFailed, .paused].contains(self) }

    /// A transition as the run's state notice and the ledger's `state` event say it: `from → to`.
    public static func transition(_ from: DeployPhase, _ to: DeployPhase) -> String {
        "\(from.rawValue) → \(to.rawValue)"
    }

    /// The phases of a `transition` text (nil for any other text).
    public static func transition(in text: String) -> (from: DeployPhase, to: DeployPhase)? {
        guard let arrow = text.firstRange(of: " → "),
            let from = DeployPhase(rawValue: String(text[..<arrow.lowerBound])),
            let to = DeployPhase(rawValue: String(text[arrow.upperBound...]))
        else { return nil }
        return (from, to)
    }
}

/// What a run does. A manual rollback has no upload and no migrations: its pre-flight chooses the
/// target (already on every host), then it switches and smoke-tests like a deploy.
public enum DeployOperation: String, Sendable, Codable {
    case deploy, rollback
}

public enum DeployEvent: Sendable, Equatable {
    case start
    /// The current phase finished on every host.
    case phaseSucceeded
    /// The current phase failed on at least one host; `anySwitched` says whether some host already
    /// points `current` at the new release.
    case phaseFailed(anySwitched: Bool)
    /// SIGINT/SIGTERM: start no new step.
    case interrupted(anySwitched: Bool)
}

public struct DeployStateMachine: Sendable {
    public private(set) var phase: DeployPhase = .pending
    public private(set) var autoRollback: Bool
    public let operation: DeployOperation
    /// A traffic switch: the release starts and is smoke-tested on the idle slot (`warm`) before
    /// the proxy sends it any request.
    public let warmStandby: Bool
    /// A progressive rollout: how many steps, whether each is baked, and the step (1-based) after
    /// which it pauses. A run without `rollout` is one step, unbaked.
    public let rollout: Rollout
    /// The step running now (0-based).
    public private(set) var step = 0

    public struct Rollout: Sendable, Equatable {
        public var steps: Int
        public var bake: Bool
        public var pauseAfter: Int?
        /// The request steps (0-based): the proxy splits requests between the releases. A step
        /// after one has its hosts warm already (no warm-up), and a request step has no smoke
        /// test of its own (its slot was smoke-tested in its warm-up).
        public var requestSteps: Set<Int>
        public init(steps: Int = 1, bake: Bool = false, pauseAfter: Int? = nil, requestSteps: Set<Int> = []) {
            self.steps = max(1, steps)
            self.bake = bake
            self.pauseAfter = pauseAfter
            self.requestSteps = requestSteps
        }

        /// The phase that starts step `step`: the warm-up, unless the step before split requests
        /// (its hosts run the release warm on their idle slot already).
        func start(of step: Int, beforeSwitch: DeployPhase) -> DeployPhase {
            requestSteps.contains(step - 1) ? .switch : beforeSwitch
        }
        public static let single = Rollout()
    }

    public init(
        operation: DeployOperation = .deploy, autoRollback: Bool = true, warmStandby: Bool = false,
        rollout: Rollout = .single, step: Int = 0,
        resume: Resume? = nil
    ) {
        self.operation = operation
        self.autoRollback = autoRollback
        self.warmStandby = warmStandby
        self.rollout = rollout
        self.step = step
        self.resume = resume
    }

    /// A paused rollout picked up by another process: `promote` re-checks every host (pre-flight,
    /// taking over its own lock), then runs the next step; `abort` re-checks, then rolls back the
    /// hosts switched so far. A pre-flight that fails leaves the rollout paused as it was.
    public enum Resume: String, Sendable, Equatable { case promote, abort }
    public let resume: Resume?

    /// `done`: the steps completed before the pause (1-based count).
    public static func resuming(_ resume: Resume, afterStep done: Int, warmStandby: Bool, rollout: Rollout)
        -> DeployStateMachine
    {
        DeployStateMachine(
            operation: .deploy, autoRollback: true, warmStandby: warmStandby, rollout: rollout,
            step: resume == .promote ? done : max(0, done - 1), resume: resume)
    }

    /// After a contract migration old code cannot run against the schema: a failure from here on
    /// leaves the hosts where they are (fix forward) instead of rolling back.
    public mutating func forbidRollback() { autoRollback = false }

    public enum TransitionError: Error, Equatable { case invalid(from: DeployPhase, event: DeployEvent) }

    /// Applies `event` and returns the new phase.
    @discardableResult
    public mutating func handle(_ event: DeployEvent) throws -> DeployPhase {
        let before = phase
        phase = try Self.next(
            from: phase, on: event, operation: operation, autoRollback: autoRollback, warmStandby: warmStandby,
            rollout: rollout, step: step, resume: resume)
        // Leaving a step's smoke test or bake (or a request step's switch) for a switch is the next step.
        let stepEnds =
            [.smokeTest, .bake].contains(before) || (before == .switch && rollout.requestSteps.contains(step))
        if stepEnds, [.warm, .switch].contains(phase) { step += 1 }
        return phase
    }

    public static func next(
        from phase: DeployPhase, on event: DeployEvent, operation: DeployOperation = .deploy,
        autoRollback: Bool, warmStandby: Bool = false, rollout: Rollout = .single, step: Int = 0,
        resume: Resume? = nil
    ) throws -> DeployPhase {
        let beforeSwitch: DeployPhase = warmStandby ? .warm : .switch
        func afterSwitchFailure(_ anySwitched: Bool) -> DeployPhase {
            anySwitched && autoRollback ? .rollingBack : .failed
        }
        // After a step's checks: pause if asked, else the next step, else done.
        func stepDone() -> DeployPhase {
            guard step + 1 < rollout.steps else { return .succeeded }
            return rollout.pauseAfter == step + 1 ? .paused : rollout.start(of: step + 1, beforeSwitch: beforeSwitch)
        }
        switch (phase, event) {
        case (.pending, .start): return .preflight
        // A resumed rollout: its release is staged everywhere and its migrations ran before the pause.
        case (.preflight, .phaseSucceeded) where resume == .promote:
            return rollout.start(of: step, beforeSwitch: beforeSwitch)
        case (.preflight, .phaseSucceeded) where resume == .abort: return .rollingBack
        case (.preflight, .phaseFailed) where resume != nil, (.preflight, .interrupted) where resume != nil:
            return .paused
        // A rollback's release is on every host already, and no migration runs backwards.
        case (.preflight, .phaseSucceeded): return operation == .rollback ? beforeSwitch : .upload
        // Database migrations run after the upload and before any switch (expand first).
        case (.upload, .phaseSucceeded) where operation == .deploy: return .migrate
        case (.migrate, .phaseSucceeded) where operation == .deploy: return beforeSwitch
        case (.warm, .phaseSucceeded) where warmStandby: return .switch
        // A request step's slot was smoke-tested in its warm-up; the public port serves both.
        case (.switch, .phaseSucceeded) where rollout.requestSteps.contains(step):
            return rollout.bake ? .bake : stepDone()
        case (.switch, .phaseSucceeded): return .smokeTest
        case (.smokeTest, .phaseSucceeded): return rollout.bake ? .bake : stepDone()
        case (.bake, .phaseSucceeded): return stepDone()
        case (.rollingBack, .phaseSucceeded): return .rolledBack
        // A later step's warm-up failed: the earlier steps' hosts serve the new release.
        case (.warm, .phaseFailed) where step > 0, (.warm, .interrupted) where step > 0:
            return afterSwitchFailure(true)
        // Nothing switched yet: clean up, nothing to roll back.
        // The warm-up gave the new release no traffic: a failure there touched no user either.
        case (.pending, .phaseFailed), (.preflight, .phaseFailed), (.upload, .phaseFailed), (.migrate, .phaseFailed),
            (.warm, .phaseFailed),
            (.pending, .interrupted), (.preflight, .interrupted), (.upload, .interrupted), (.migrate, .interrupted),
            (.warm, .interrupted):
            return .failed
        case (.switch, .phaseFailed(let anySwitched)), (.switch, .interrupted(let anySwitched)):
            return afterSwitchFailure(anySwitched)
        case (.smokeTest, .phaseFailed), (.smokeTest, .interrupted), (.bake, .phaseFailed), (.bake, .interrupted):
            return afterSwitchFailure(true)
        case (.rollingBack, .phaseFailed): return .rollbackFailed
        // A second signal during rollback does not stop the rollback: it is not a transition.
        default: throw TransitionError.invalid(from: phase, event: event)
        }
    }
}
