import CLibSSH2
import FoundationEssentials

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// The synchronous heart of a session: one TCP socket and one libssh2 session in non-blocking mode.
/// Every libssh2 call that would block returns EAGAIN; we then `poll()` the socket in the direction
/// libssh2 asks for (never a busy loop) until the operation's deadline, sending keepalives meanwhile.
/// Not thread-safe by design: `SSHSession` confines each Connection to one serial queue.
final class Connection: @unchecked Sendable {
    let target: SSHTarget
    let session: OpaquePointer
    let fd: Int32
    private var sftpHandle: OpaquePointer?
    private var closed = false
    let keepaliveInterval: Int

    var host: String { target.host }

    private init(target: SSHTarget, session: OpaquePointer, fd: Int32, keepaliveInterval: Int) {
        self.target = target
        self.session = session
        self.fd = fd
        self.keepaliveInterval = keepaliveInterval
    }

    deinit { shutdown() }

    // MARK: connect

    /// `over`: an already connected socket to run the session on (a jump host's bridged channel),
    /// owned by the connection from then on; nil connects over TCP.
    static func open(target: SSHTarget, options: SSHOptions, over socket: Int32? = nil) throws -> Connection {
        try LibSSH2Runtime.ensure()
        let deadline = ContinuousClock.now.advanced(by: .milliseconds(Int(options.connectTimeout * 1000)))
        let fd = try socket ?? TCPSocket.connect(host: target.host, port: target.port, deadline: deadline)
        guard let raw = libssh2_session_init_ex(nil, nil, nil, nil) else {
            close(fd)
            throw SSHError(
                kind: .internalError, host: target.host, operation: "session init",
                message: "libssh2_session_init failed")
        }
        let conn = Connection(target: target, session: raw, fd: fd, keepaliveInterval: options.keepaliveInterval)
        libssh2_session_set_blocking(raw, 0)
        // Prefer the fast, modern algorithms; libssh2 falls back to the rest of its list.
        _ = libssh2_session_method_pref(
            raw, LIBSSH2_METHOD_KEX,
            "curve25519-sha256,curve25519-sha256@libssh.org,ecdh-sha2-nistp256,ecdh-sha2-nistp384,ecdh-sha2-nistp521,diffie-hellman-group-exchange-sha256,diffie-hellman-group16-sha512,diffie-hellman-group18-sha512,diffie-hellman-group14-sha256"
        )
        _ = libssh2_session_method_pref(raw, LIBSSH2_METHOD_CRYPT_CS, "aes128-ctr,aes256-ctr,aes192-ctr")
        _ = libssh2_session_method_pref(raw, LIBSSH2_METHOD_CRYPT_SC, "aes128-ctr,aes256-ctr,aes192-ctr")
        let knownHosts = try KnownHosts(connection: conn, path: options.knownHostsPath)
        knownHosts.preferRecordedKinds()
        try conn.retry("SSH handshake", deadline: deadline, kind: .handshake) { libssh2_session_handshake(raw, fd) }
        try knownHosts.verify(policy: options.hostKeyPolicy)
        try Authenticator.authenticate(connection: conn, methods: options.authentication, deadline: deadline)
        if options.keepaliveInterval > 0 {
            libssh2_keepalive_config(raw, 1, UInt32(options.keepaliveInterval))
        }
        return conn
    }

    // MARK: waiting

    func lastError() -> String {
        var msg: UnsafeMutablePointer<CChar>?
        var len: Int32 = 0
        let code = libssh2_session_last_error(session, &msg, &len, 0)
        guard let msg, len > 0 else { return "libssh2 error \(code)" }
        return String(cString: msg)
    }

    func error(_ kind: SSHError.Kind, _ operation: String, _ message: String? = nil) -> SSHError {
        // A socket-level failure is the connection's, not the operation's, whatever was being done.
        if message == nil, Self.socketErrors.contains(libssh2_session_last_errno(session)) {
            return SSHError(
                kind: .connectionLost, host: host, operation: operation, message: "connection lost (\(lastError()))")
        }
        return SSHError(kind: kind, host: host, operation: operation, message: message ?? lastError())
    }

    static let socketErrors: Set<Int32> = [
        LIBSSH2_ERROR_SOCKET_DISCONNECT, LIBSSH2_ERROR_SOCKET_SEND, LIBSSH2_ERROR_SOCKET_RECV,
    ]

    /// Waits until the socket is ready in the direction libssh2 needs, or throws on the deadline.
    /// `also`: directions an earlier call in the same round blocked on (`LIBSSH2_SESSION_BLOCK_*`).
    /// `maxWaitMs`: wake up at least this often (a caller with something else to check).
    func waitSocket(_ operation: String, deadline: ContinuousClock.Instant?, also: Int32 = 0, maxWaitMs: Int32 = 1000)
        throws
    {
        var waitMs: Int32 = maxWaitMs
        if let deadline {
            waitMs = min(maxWaitMs, TCPSocket.millisecondsUntil(deadline))
            if waitMs <= 0 { throw error(.timeout, operation, "timed out") }
        }
        if keepaliveInterval > 0 {
            var next: Int32 = 0
            if libssh2_keepalive_send(session, &next) == 0, next > 0 { waitMs = min(waitMs, next * 1000) }
        }
        let dirs = libssh2_session_block_directions(session) | also
        var events: Int16 = 0
        if dirs & LIBSSH2_SESSION_BLOCK_INBOUND != 0 { events |= Int16(POLLIN) }
        if dirs & LIBSSH2_SESSION_BLOCK_OUTBOUND != 0 { events |= Int16(POLLOUT) }
        if events == 0 { events = Int16(POLLIN) }
        var pfd = pollfd(fd: fd, events: events, revents: 0)
        let n = poll(&pfd, 1, max(1, waitMs))
        if n < 0 && errno != EINTR {
            throw error(.closed, operation, String(cString: strerror(errno)))
        }
    }

    /// Repeats an int-returning libssh2 call while it says EAGAIN; a negative result is an error.
    @discardableResult
    func retry(
        _ operation: String, deadline: ContinuousClock.Instant?, kind: SSHError.Kind = .channel, _ call: () -> Int32
    ) throws -> Int32 {
        while true {
            let rc = call()
            if rc == LIBSSH2_ERROR_EAGAIN {
                try waitSocket(operation, deadline: deadline)
                continue
            }
            if rc < 0 { throw error(rc == LIBSSH2_ERROR_TIMEOUT ? .timeout : kind, operation) }
            return rc
        }
    }

    /// Repeats a pointer-returning libssh2 call while it returns NULL with EAGAIN.
    func retryPointer(
        _ operation: String, deadline: ContinuousClock.Instant?, kind: SSHError.Kind = .channel,
        _ call: () -> OpaquePointer?
    ) throws -> OpaquePointer {
        while true {
            if let p = call() { return p }
            if libssh2_session_last_errno(session) == LIBSSH2_ERROR_EAGAIN {
                try waitSocket(operation, deadline: deadline)
                continue
            }
            throw error(kind, operation)
        }
    }

    // MARK: channels

    /// A session channel with a large receive window, so bulk output is not throttled by acks.
    func openSessionChannel(deadline: ContinuousClock.Instant?) throws -> OpaquePointer {
        try retryPointer("open channel", deadline: deadline) {
            libssh2_channel_open_ex(
                session, "session", 7, 8 * 1024 * 1024, UInt32(LIBSSH2_CHANNEL_PACKET_DEFAULT), nil, 0)
        }
    }

    /// Closes and frees a channel; bounded so a dead link cannot hang cleanup.
    func closeChannel(_ channel: OpaquePointer, graceful: Bool = true) {
        let deadline = ContinuousClock.now.advanced(by: .seconds(2))
        if graceful {
            _ = try? retry("close channel", deadline: deadline) { libssh2_channel_close(channel) }
            _ = try? retry("wait closed", deadline: deadline) { libssh2_channel_wait_closed(channel) }
        }
        _ = try? retry("free channel", deadline: deadline) { libssh2_channel_free(channel) }
    }

    func sftp(deadline: ContinuousClock.Instant?) throws -> OpaquePointer {
        if let sftpHandle { return sftpHandle }
        let handle = try retryPointer("start SFTP", deadline: deadline, kind: .transfer) { libssh2_sftp_init(session) }
        sftpHandle = handle
        return handle
    }

    // MARK: teardown

    /// Disconnects politely but with a bound: on a dead link `disconnect` may never finish.
    func shutdown() {
        guard !closed else { return }
        closed = true
        let deadline = ContinuousClock.now.advanced(by: .milliseconds(500))
        if let sftpHandle {
            _ = try? retry("sftp shutdown", deadline: deadline) { libssh2_sftp_shutdown(sftpHandle) }
            self.sftpHandle = nil
        }
        _ = try? retry("disconnect", deadline: deadline) {
            libssh2_session_disconnect_ex(session, SSH_DISCONNECT_BY_APPLICATION, "shipit done", "")
        }
        _ = try? retry("free session", deadline: deadline) { libssh2_session_free(session) }
        close(fd)
    }
}
