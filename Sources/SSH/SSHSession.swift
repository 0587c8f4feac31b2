import Dispatch
import FoundationEssentials

/// One authenticated SSH connection to one host, reused for every operation of a run.
///
/// libssh2 sessions (and their channels) must never be used from two threads at once, so every
/// operation is confined to this session's own serial queue; callers simply `await`. Many sessions
/// run in parallel, one queue each.
public final class SSHSession: @unchecked Sendable {
    public let target: SSHTarget
    /// SHA256 fingerprint of the verified host key.
    public let hostKeyFingerprint: String
    private let connection: Connection
    private let queue: DispatchQueue

    /// Default per-stream capture: the tail of each stream is kept, the rest only streamed.
    public static let defaultCaptureLimit = 32 * 1024 * 1024

    private init(connection: Connection, queue: DispatchQueue) {
        self.connection = connection
        self.queue = queue
        self.target = connection.target
        self.hostKeyFingerprint = KnownHosts.fingerprint(of: connection)
    }

    public static var libssh2Version: String { LibSSH2Runtime.version }

    /// Connects, verifies the host key against known_hosts and authenticates, within
    /// `options.connectTimeout`.
    public static func connect(to target: SSHTarget, options: SSHOptions) async throws -> SSHSession {
        try await connect(to: target, options: options, over: nil)
    }

    /// `socket`: a connected socket the session runs on (owned by the session from then on).
    static func connect(to target: SSHTarget, options: SSHOptions, over socket: Int32?) async throws -> SSHSession {
        let queue = DispatchQueue(label: "shipit.ssh.\(target.host):\(target.port)")
        return try await withCheckedThrowingContinuation { continuation in
            queue.async {
                do {
                    let conn = try Connection.open(target: target, options: options, over: socket)
                    continuation.resume(returning: SSHSession(connection: conn, queue: queue))
                } catch {
                    continuation.resume(throwing: error)
                }
            }
        }
    }

    func onQueue<T: Sendable>(_ body: @escaping @Sendable (Connection) throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            queue.async { [connection] in
                do { continuation.resume(returning: try body(connection)) } catch {
                    continuation.resume(throwing: error)
                }
            }
        }
    }

    /// Runs `command` through the remote user's shell and captures stdout, stderr and exit status.
    /// `timeout` bounds the whole command; a non-zero exit is a result, not an error.
    public func exec(
        _ command: String, stdin: Data? = nil, timeout: Double? = nil,
        captureLimit: Int = SSHSession.defaultCaptureLimit
    ) async throws -> ExecResult {
        try await onQueue {
            try $0.exec(command, stdin: stdin, timeout: timeout, captureLimit: captureLimit, onOutput: nil)
        }
    }

    /// Like `exec`, but hands every chunk of output to `onOutput` as it arrives (on the session's
    /// queue). Only `captureLimit` bytes of each stream's tail are kept in the result.
    public func exec(
        _ command: String, stdin: Data? = nil, timeout: Double? = nil, captureLimit: Int = 64 * 1024,
        onOutput: @escaping @Sendable (OutputChannel, Data) -> Void
    ) async throws -> ExecResult {
        try await onQueue {
            try $0.exec(command, stdin: stdin, timeout: timeout, captureLimit: captureLimit, onOutput: onOutput)
        }
    }

    /// Runs `command` with the local file at `stdinPath` streamed on its stdin: one channel moves the
    /// file and runs what consumes it (e.g. `cat > f && tar -x …`), and the server needs no SFTP.
    public func exec(
        _ command: String, stdinPath: String, timeout: Double? = nil,
        captureLimit: Int = SSHSession.defaultCaptureLimit
    ) async throws -> ExecResult {
        try await onQueue { conn in
            let input = try FileInput(path: stdinPath, host: conn.host)
            return try conn.exec(command, input: input, timeout: timeout, captureLimit: captureLimit, onOutput: nil)
        }
    }

    /// Runs `command` with its stdin held open until `stop()` returns true (checked at least once a
    /// second), then closed; output goes to `onOutput` as it arrives. For commands that run until
    /// told to end (`tail -F`), which read their stdin to know when.
    public func exec(
        _ command: String, until stop: @escaping @Sendable () -> Bool,
        onOutput: @escaping @Sendable (OutputChannel, Data) -> Void
    ) async throws -> ExecResult {
        try await onQueue { conn in
            try conn.exec(
                command, input: HeldInput(until: stop), timeout: nil, captureLimit: 64 * 1024, onOutput: onOutput)
        }
    }

    /// Whether the server offers the SFTP subsystem (started now, and kept for later uploads).
    public func sftpAvailable(timeout: Double = 10) async -> Bool {
        (try? await onQueue { conn in
            _ = try conn.sftp(deadline: ContinuousClock.now.advanced(by: .milliseconds(Int(timeout * 1000))))
            return true
        }) ?? false
    }

    /// Copies a local file to `remotePath` with permission bits `mode`; returns the bytes sent.
    @discardableResult
    public func upload(
        localPath: String, remotePath: String, mode: Int32 = 0o644,
        method: UploadMethod = .sftp, timeout: Double? = nil
    ) async throws -> Int64 {
        try await onQueue {
            try $0.upload(localPath: localPath, remotePath: remotePath, mode: mode, method: method, timeout: timeout)
        }
    }

    /// Reads a small remote file (over SFTP); refuses files above `maxBytes`.
    public func readFile(_ remotePath: String, maxBytes: Int = 1024 * 1024, timeout: Double? = nil) async throws -> Data
    {
        try await onQueue { try $0.readFile(remotePath, maxBytes: maxBytes, timeout: timeout) }
    }

    /// Sends `request` to host:port as seen *from the server* (direct-tcpip) and returns everything
    /// the far end sends back until it closes: enough for an HTTP/1.0 health check.
    public func tunnelRequest(
        host: String, port: Int, request: Data, maxResponse: Int = 1024 * 1024,
        timeout: Double = 5
    ) async throws -> Data {
        try await onQueue { conn in
            let deadline = ContinuousClock.now.advanced(by: .milliseconds(Int(timeout * 1000)))
            let channel = try conn.openTunnel(host: host, port: port, deadline: deadline)
            defer { conn.closeChannel(channel) }
            try conn.tunnelWrite(channel, request, deadline: deadline)
            return try conn.tunnelReadToEnd(channel, maxBytes: maxResponse, deadline: deadline)
        }
    }

    /// Runs `command` on a pseudo-terminal wired to the local descriptors `input` and `output`
    /// until it exits (an interactive console, `psql`): `ssh -t`. The session's queue is busy
    /// for as long.
    public func interactive(
        _ command: String, term: String, columns: Int, rows: Int,
        input: Int32 = 0, output: Int32 = 1, connectTimeout: Double = 10, filter: TerminalOutputFilter? = nil
    ) async throws -> ExitStatus {
        try await onQueue {
            try $0.interactive(
                command, term: term, columns: columns, rows: rows, input: input, output: output,
                connectTimeout: connectTimeout, filter: filter)
        }
    }

    /// Disconnects (bounded: a dead link cannot hang this).
    public func close() async {
        _ = try? await onQueue { $0.shutdown() }
    }
}
