/// A host a run left out because it could not be reached at its start (`tolerate.unreachable`).
public struct SkippedHost: Sendable, Codable, Equatable {
    public var host: String
    /// What the connection said (refused, timed out, authentication failed…).
    public var reason: String

    public init(host: String, reason: String) {
        self.host = host
        self.reason = reason
    }

    /// How the ledger, the summary and the webhooks say it.
    public var error: String { "skipped: unreachable: \(reason)" }
}
