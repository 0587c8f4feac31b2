/// Every failure names the host, the operation and what libssh2 (or the OS) said, because the operator at
/// 3 a.m. reads this line first.
public struct SSHError: Error, CustomStringConvertible, Sendable, Equatable {
    public enum Kind: String, Sendable {
        case resolve, connect, timeout, handshake
        case hostKeyUnknown, hostKeyMismatch, hostKeyCheck
        case authentication, channel, exec, transfer, tunnel, closed, internalError
        /// The TCP connection died under an open session (sshd killed, host gone): the session is
        /// unusable and whatever ran on the host has an unknown outcome.
        case connectionLost
    }

    public let kind: Kind
    public let host: String
    public let operation: String
    public let message: String

    public init(kind: Kind, host: String, operation: String, message: String) {
        self.kind = kind
        self.host = host
        self.operation = operation
        self.message = message
    }

    public var description: String { "\(host): \(operation): \(message)" }

    /// Whether a command may have started on the host: a connection lost (or a deadline missed)
    /// after the exec request went out. Losing it while the channel was being opened, or while
    /// connecting, means nothing ran.
    public var commandMayHaveRun: Bool {
        (kind == .connectionLost || kind == .timeout) && operation != "open channel"
    }
}
