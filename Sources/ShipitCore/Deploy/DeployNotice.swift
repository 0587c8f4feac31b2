import FoundationEssentials

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

    public init(
        host: String?, step: String, status: Status, message: String, seconds: Double? = nil, time: Date = Date()
    ) {
        self.time = time
        self.host = host
        self.step = step
        self.status = status
        self.message = message
        self.seconds = seconds
    }

    /// The phase a state notice says the run entered (nil for every other notice).
    public var enteredPhase: DeployPhase? {
        step == "state" ? DeployPhase.transition(in: message)?.to : nil
    }

    public func redacted(by r: Redactor) -> DeployNotice {
        DeployNotice(host: host, step: step, status: status, message: r.redact(message), seconds: seconds, time: time)
    }
}
