/// A failure explained for an operator, with the exit code the CLI returns for it.
public struct ShipitError: Error, CustomStringConvertible, Sendable {
    public let message: String
    public let exitCode: ShipitExit

    public init(_ message: String, exitCode: ShipitExit = .failure) {
        self.message = message
        self.exitCode = exitCode
    }

    public var description: String { message }

    /// Bad input: config, flags, names, the release. Raised before anything runs on a host.
    public static func input(_ message: String) -> ShipitError { ShipitError(message, exitCode: .usage) }
}

/// Documented exit codes (docs/exit-codes.md); CI pipelines branch on these.
public enum ShipitExit: Int32, Sendable, CaseIterable {
    case success = 0
    /// A command or check failed on at least one host.
    case failure = 1
    /// Bad configuration or arguments; nothing was touched.
    case usage = 2
    /// Pre-flight failed on some host; nothing was changed anywhere.
    case preflightFailed = 3
    /// The deploy failed after a switch and every switched host was rolled back.
    case rolledBack = 4
    /// Rolling back failed: hosts may be on different releases (the summary says which).
    case rollbackFailed = 5
    /// Another run holds the deploy lock.
    case locked = 6
    /// status/verify found drift or an unhealthy host.
    case unhealthy = 7
    /// The run succeeded on every host it reached; `tolerate.unreachable` let it leave some out.
    case partial = 8
    /// `--deadline` passed: the run stopped and rolled back what it had switched.
    case deadline = 124
    /// Interrupted by SIGINT/SIGTERM (after cleaning up what it had started).
    case interrupted = 130
}
