import FoundationEssentials

/// Where every host ended up; the last thing printed and the basis of the exit code.
public struct DeployReport: Sendable, Codable {
    public struct HostResult: Sendable, Codable {
        public init(host: String) { self.host = host }

        public var host: String
        public var previous: String?
        public var current: String?
        public var failedStep: String?
        public var error: String?
        /// The connection failed while a switch ran on this host: it may be on `current` or on the
        /// release it was switching to. Cleared by the next switch that reports back.
        public var switchingTo: String?
        /// Traffic switch: the slot (port) serving traffic, and the release kept warm on the other one.
        public var slot: Int?
        public var standby: String?
        public var standbySlot: Int?
        /// Progressive rollout: the host's step (1-based), and when it switched to the release
        /// (nil: a step the rollout never reached).
        public var rolloutStep: Int?
        public var switchedAt: Date?
        /// A first deploy that failed after its switch: the release this host ran, now stopped,
        /// with `current` taken away (there was no previous release to return to).
        public var retreatedFrom: String?
        /// Whether the retreat stopped the app (false: symlink without `stop:`, nothing knew how).
        public var appStopped: Bool?
    }

    /// A progressive rollout: the hosts of each step, how many steps started, and the gate sample
    /// that stopped it.
    public struct Rollout: Sendable, Codable {
        public var steps: [[String]]
        public var reached: Int
        public var failedGate: GateSample?
        /// Each step's share of requests (nil: a host step).
        public var shares: [Int?]?
        /// What the proxy measured in each request step that was judged.
        public var requests: [RequestComparison]?

        /// Hosts only later steps would have reached (a request step's hosts are reached by it).
        public var untouched: [String] {
            let reachedHosts = Set(steps.prefix(reached).flatMap { $0 })
            var seen = Set<String>()
            return steps.dropFirst(reached).flatMap { $0 }.filter {
                !reachedHosts.contains($0) && seen.insert($0).inserted
            }
        }

        /// Hosts whose requests a reached request step split.
        public var split: [String] {
            let shares = self.shares ?? []
            var seen = Set<String>()
            return steps.prefix(reached).enumerated().filter {
                shares.indices.contains($0.offset) && shares[$0.offset] != nil
            }
            .flatMap(\.element).filter { seen.insert($0).inserted }
        }
    }

    public var operation: String
    public var app: String
    public var releaseID: String
    public var phase: DeployPhase
    /// The phase the run was in when it failed (nil on success).
    public var failedIn: DeployPhase?
    public var interrupted: Bool
    public var lockHeld: Bool
    public var hosts: [HostResult]
    public var seconds: Double
    /// The ledger attempt that recorded this run, and where the ledger is.
    public var attemptID: String?
    public var ledger: String?
    public var rollout: Rollout?
    /// `promote` or `abort` when this run picked up a paused rollout.
    public var resumed: String?
    /// `--deadline` passed (the run was stopped, and what it switched rolled back).
    public var deadlineExceeded = false
    /// What the release changed (`A path`, `M path`, `D path`) and the config keys that changed
    /// since the previous attempt, from the ledger.
    public var changedFiles: [String] = []
    public var configChanges: [String] = []
    /// Hosts the run left out because they could not be reached (`tolerate.unreachable`).
    public var skipped: [SkippedHost] = []

    public init(
        operation: String, app: String, releaseID: String, phase: DeployPhase, failedIn: DeployPhase?,
        interrupted: Bool,
        lockHeld: Bool, hosts: [HostResult], seconds: Double, attemptID: String? = nil, ledger: String? = nil
    ) {
        self.operation = operation
        self.app = app
        self.releaseID = releaseID
        self.phase = phase
        self.failedIn = failedIn
        self.interrupted = interrupted
        self.lockHeld = lockHeld
        self.hosts = hosts
        self.seconds = seconds
        self.attemptID = attemptID
        self.ledger = ledger
    }

    /// The release most hosts ran before the run (ties: the lowest id, so it is stable).
    public static func commonPrevious(_ hosts: [HostResult]) -> String? {
        let counts = Dictionary(grouping: hosts.compactMap(\.previous), by: { $0 }).mapValues(\.count)
        return counts.max { ($0.value, $1.key) < ($1.value, $0.key) }?.key
    }

    /// The ledger's word for how the run ended.
    public var outcome: LedgerAttempt.Outcome { Self.outcome(phase: phase, interrupted: interrupted) }

    static func outcome(phase: DeployPhase, interrupted: Bool) -> LedgerAttempt.Outcome {
        switch phase {
        case .succeeded: return .succeeded
        case .rolledBack: return .rolledBack
        case .rollbackFailed: return .rollbackFailed
        case .paused: return .paused
        default: return .failed
        }
    }

    /// One line for the ledger: the first host failure (or the interruption).
    public var summaryError: String? {
        var parts: [String] = []
        if deadlineExceeded {
            parts.append("deadline passed")
        } else if interrupted {
            parts.append("interrupted by a signal")
        }
        if lockHeld { parts.append("deploy lock held by another run") }
        if let g = rollout?.failedGate {
            parts.append("rollout step \(rollout!.reached) of \(rollout!.steps.count): gate \(g.line)")
        }
        if let h = hosts.first(where: { $0.failedStep != nil }) {
            let others = hosts.filter { $0.failedStep != nil }.count - 1
            parts.append(
                "\(h.host) failed at \(h.failedStep!): \(h.error ?? "")"
                    + (others > 0 ? " (and \(others) more host(s))" : ""))
        }
        return parts.isEmpty ? nil : parts.joined(separator: "; ")
    }

    public var exitCode: ShipitExit {
        switch phase {
        case .succeeded: return skipped.isEmpty ? .success : .partial
        case .paused: return .success
        case .rolledBack:
            if deadlineExceeded { return .deadline }
            if interrupted { return .interrupted }
            // `rollout abort` asked for exactly this rollback: it did what was asked.
            return resumed == "abort" ? .success : .rolledBack
        case .rollbackFailed: return .rollbackFailed
        default:
            if deadlineExceeded { return .deadline }
            if interrupted { return .interrupted }
            if lockHeld { return .locked }
            return failedIn == .preflight ? .preflightFailed : .failure
        }
    }
}
