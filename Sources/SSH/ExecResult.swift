import FoundationEssentials

/// Which stream a chunk of remote output came from.
public enum OutputChannel: Sendable {
    case stdout, stderr
}

/// How a remote command ended.
public struct ExitStatus: Sendable, Equatable {
    public var code: Int32
    /// Set when the command was killed by a signal (e.g. "KILL"); `code` is then -1.
    public var signal: String?

    public init(code: Int32, signal: String? = nil) {
        self.code = code
        self.signal = signal
    }

    public var succeeded: Bool { code == 0 && signal == nil }
}

/// Captured output of a remote command. Each stream keeps at most its capture limit, the *tail* (the
/// end of an error is what explains it); `stdoutDropped`/`stderrDropped` count what was cut.
public struct ExecResult: Sendable {
    public var status: ExitStatus
    public var stdout: Data
    public var stderr: Data
    public var stdoutDropped: Int
    public var stderrDropped: Int

    public init(
        status: ExitStatus, stdout: Data = Data(), stderr: Data = Data(), stdoutDropped: Int = 0, stderrDropped: Int = 0
    ) {
        self.status = status
        self.stdout = stdout
        self.stderr = stderr
        self.stdoutDropped = stdoutDropped
        self.stderrDropped = stderrDropped
    }

    public var exitCode: Int32 { status.code }
    public var stdoutText: String { String(decoding: stdout, as: UTF8.self) }
    public var stderrText: String { String(decoding: stderr, as: UTF8.self) }
}
