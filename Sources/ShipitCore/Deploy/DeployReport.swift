import Foundation

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
