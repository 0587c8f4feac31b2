import Foundation

/// One thing worth telling the operator: a step on a host (with duration) or a run-level message.
/// The CLI renders these as lines, or as NDJSON with --json.
public struct DeployNotice: Sendable, Codable {
    public enum Status: String, Sendable, Codable { case started, ok, failed, info }
    public let time: Date
    public let host: String?
    public let step: String
    public let status: Status
    public let message: String
    public let seconds: Double?

    public init(host: String?, step: String, status: Status, message: String, seconds: Double? = nil) {
        self.time = Date()
        self.host = host
        self.step = step
        self.status = status
        self.message = message
        self.seconds = seconds
    }
}

/// Where every host ended up; the last thing printed and the basis of the exit code.
public struct DeployReport: Sendable, Codable {
    public struct HostResult: Sendable, Codable {
        public var host: String
        public var previous: String?
        public var current: String?
        public var failedStep: String?
        public var error: String?
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

    public var exitCode: ShipitExit {
        switch phase {
        case .succeeded: return .success
        case .rolledBack: return interrupted ? .interrupted : .rolledBack
        case .rollbackFailed: return .rollbackFailed
        default:
            if interrupted { return .interrupted }
            if lockHeld { return .locked }
            return failedIn == .preflight ? .preflightFailed : .failure
        }
    }
}

/// Set by SIGINT/SIGTERM; the deploy checks it before every step and starts no new one.
public final class InterruptFlag: @unchecked Sendable {
    private let lock = NSLock()
    private var raised = false
    public init() {}
    public func raise() { lock.lock(); raised = true; lock.unlock() }
    public var isRaised: Bool { lock.lock(); defer { lock.unlock() }; return raised }
}
