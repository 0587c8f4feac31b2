import CLibSSH2
import FoundationEssentials
import ShipitSupport

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Moves bytes between a session's direct-tcpip channels and their socket pairs, on a thread of
/// its own: libssh2 sessions are not thread-safe, so this thread alone touches the bastion's
/// session after it connected. It sleeps in `poll()` on the bastion's socket, every bridge's
/// socket and a wake-up pipe (new requests, stop).
final class ChannelPump: @unchecked Sendable {
    typealias Completion = (Result<Int32, Error>) -> Void

    private struct Request {
        let host: String
        let port: Int
        let deadline: ContinuousClock.Instant
        let done: Completion
    }

    /// One channel and the local end of its socket pair, with what is read but not yet written
    /// in each direction (a full side stops reading the other: back-pressure, not buffering).
    private final class Bridge {
        let channel: OpaquePointer
        let fd: Int32
        var toChannel = [UInt8](), toChannelAt = 0
        var toSocket = [UInt8](), toSocketAt = 0
        var localEOF = false, remoteEOF = false, eofSent = false, broken = false

        init(channel: OpaquePointer, fd: Int32) {
            self.channel = channel
            self.fd = fd
        }
        /// Everything that says whether a turn moved anything.
        var state: [Int] {
            [
                toChannelAt, toChannel.count, toSocketAt, toSocket.count, localEOF ? 1 : 0, remoteEOF ? 1 : 0,
                eofSent ? 1 : 0,
            ]
        }
        var done: Bool { broken || (localEOF && eofSent && remoteEOF && toSocketAt == toSocket.count) }
    }

    private let connection: Connection
    private let maxOpening: Int
    private let lock = Lock()
    private var queued: [Request] = []
    private var stopping: (() -> Void)?
    private var opening: [Request] = []
    /// The channel open in progress inside libssh2, with the arguments it must be resumed with.
    /// `abandoned`: its caller timed out; it is driven to the end and the channel freed before
    /// the next open starts.
    private var inProgress: (request: Request, abandoned: Bool)?
    private var bridges: [Bridge] = []
    private let wakeRead: Int32, wakeWrite: Int32
    private static let chunk = 64 * 1024

    init(connection: Connection, maxOpening: Int) throws {
        self.connection = connection
        self.maxOpening = max(1, maxOpening)
        var fds: [Int32] = [0, 0]
        guard pipe(&fds) == 0 else {
            throw SSHError(
                kind: .internalError, host: connection.host, operation: "jump host",
                message: "pipe: \(String(cString: strerror(errno)))")
        }
        wakeRead = fds[0]
        wakeWrite = fds[1]
        for fd in fds { _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) }
    }

    func start() {
        DetachedThread.start { [self] in run() }
    }

    func open(host: String, port: Int, timeout: Double, done: @escaping Completion) {
        let request = Request(
            host: host, port: port, deadline: ContinuousClock.now.advanced(by: .milliseconds(Int(timeout * 1000))),
            done: done)
        let refused = lock.withLock { () -> Bool in
            if stopping != nil { return true }
            queued.append(request)
            return false
        }
        if refused {
            done(
                .failure(
                    SSHError(kind: .closed, host: host, operation: "jump", message: "the jump host's session is closed")
                ))
            return
        }
        wake()
    }

    func stop(_ done: @escaping () -> Void) {
        lock.withLock { stopping = done }
        wake()
    }

    private func wake() {
        var b: UInt8 = 1
        _ = write(wakeWrite, &b, 1)
    }

    // MARK: the loop (pump thread only)

    private func run() {
        let session = connection.session
        var buffer = [UInt8](repeating: 0, count: Self.chunk)
        while true {
            let (incoming, stop) = lock.withLock { () -> ([Request], (() -> Void)?) in
                defer { queued.removeAll() }
                return (queued, stopping)
            }
            if let stop {
                finish(pending: incoming)
                stop()
                return
            }
            opening += incoming
            progressOpens()
            // Until nothing moves: a read on one channel may queue another's data inside libssh2.
            var moved = true
            while moved {
                moved = false
                for b in bridges { moved = pumpBridge(b, &buffer) || moved }
            }
            bridges.removeAll { b in
                guard b.done else { return false }
                release(b)
                return true
            }
            retryClosing()
            if libssh2_session_last_errno(session) != 0,
                Connection.socketErrors.contains(libssh2_session_last_errno(session))
            {
                // The bastion is gone: every session through it has lost its connection.
                for b in bridges {
                    b.broken = true
                    release(b)
                }
                bridges.removeAll()
            }
            waitForWork()
        }
    }

    /// Starts or continues channel opens, one at a time (see the type's note), as many as
    /// complete without waiting, up to `maxOpening` per pass. Requests that time out while waiting
    /// their turn fail without ever starting.
    private func progressOpens() {
        let now = ContinuousClock.now
        opening.removeAll { r in
            guard now >= r.deadline else { return false }
            r.done(
                .failure(
                    SSHError(
                        kind: .timeout, host: r.host, operation: "jump via \(connection.host) to \(r.host):\(r.port)",
                        message: "timed out")))
            return true
        }
        var started = 0
        while started < maxOpening {
            if inProgress == nil {
                guard !opening.isEmpty else { return }
                inProgress = (opening.removeFirst(), false)
                started += 1
            }
            let (r, abandoned) = inProgress!
            if let channel = libssh2_channel_direct_tcpip_ex(connection.session, r.host, Int32(r.port), "127.0.0.1", 22)
            {
                inProgress = nil
                if abandoned {
                    _ = libssh2_channel_free(channel)
                    continue
                }
                var pair: [Int32] = [0, 0]
                guard socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0, &pair) == 0 else {
                    _ = libssh2_channel_free(channel)
                    r.done(
                        .failure(
                            SSHError(
                                kind: .tunnel, host: r.host, operation: "jump",
                                message: "socketpair: \(String(cString: strerror(errno)))")))
                    continue
                }
                for fd in pair { _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) }
                bridges.append(Bridge(channel: channel, fd: pair[0]))
                r.done(.success(pair[1]))
            } else if libssh2_session_last_errno(connection.session) == LIBSSH2_ERROR_EAGAIN {
                if !abandoned, ContinuousClock.now >= r.deadline {
                    r.done(
                        .failure(
                            SSHError(
                                kind: .timeout, host: r.host,
                                operation: "jump via \(connection.host) to \(r.host):\(r.port)", message: "timed out")))
                    inProgress = (r, true)
                }
                return
            } else {
                inProgress = nil
                if !abandoned {
                    r.done(
                        .failure(
                            SSHError(
                                kind: .connect, host: r.host,
                                operation: "jump via \(connection.host) to \(r.host):\(r.port)",
                                message: connection.lastError())))
                }
            }
        }
    }

    /// Moves what it can both ways; true if any byte (or an end of stream) moved.
    private func pumpBridge(_ b: Bridge, _ buffer: inout [UInt8]) -> Bool {
        let before = b.state
        // socket → channel
        while !b.broken {
            if b.toChannelAt == b.toChannel.count && !b.localEOF {
                let n = buffer.withUnsafeMutableBytes { read(b.fd, $0.baseAddress, Self.chunk) }
                if n > 0 {
                    b.toChannel = Array(buffer[0..<n])
                    b.toChannelAt = 0
                } else if n == 0 {
                    b.localEOF = true
                } else if errno != EAGAIN && errno != EINTR {
                    b.broken = true
                }
            }
            guard b.toChannelAt < b.toChannel.count else { break }
            let n = b.toChannel.withUnsafeBytes { raw in
                libssh2_channel_write_ex(
                    b.channel, 0, raw.baseAddress!.advanced(by: b.toChannelAt).assumingMemoryBound(to: CChar.self),
                    raw.count - b.toChannelAt)
            }
            if n > 0 {
                b.toChannelAt += n
                continue
            }
            if n != Int(LIBSSH2_ERROR_EAGAIN) && n != 0 { b.broken = true }
            break
        }
        if b.localEOF && !b.eofSent && b.toChannelAt == b.toChannel.count {
            let rc = libssh2_channel_send_eof(b.channel)
            if rc == 0 || rc != LIBSSH2_ERROR_EAGAIN { b.eofSent = true }
        }
        // channel → socket
        while !b.broken {
            if b.toSocketAt == b.toSocket.count && !b.remoteEOF {
                let n = buffer.withUnsafeMutableBytes {
                    libssh2_channel_read_ex(
                        b.channel, 0, $0.baseAddress!.assumingMemoryBound(to: CChar.self), Self.chunk)
                }
                if n > 0 {
                    b.toSocket = Array(buffer[0..<n])
                    b.toSocketAt = 0
                } else if n == Int(LIBSSH2_ERROR_EAGAIN) || (n == 0 && libssh2_channel_eof(b.channel) == 0) {
                    // nothing yet
                } else if n == 0 {
                    b.remoteEOF = true
                    shutdown(b.fd, Int32(SHUT_WR))
                } else {
                    b.broken = true
                }
            }
            guard b.toSocketAt < b.toSocket.count else { break }
            let n = b.toSocket.withUnsafeBytes { raw in
                write(b.fd, raw.baseAddress!.advanced(by: b.toSocketAt), raw.count - b.toSocketAt)
            }
            if n > 0 {
                b.toSocketAt += n
                continue
            }
            if n < 0 && errno != EAGAIN && errno != EINTR { b.broken = true }
            break
        }
        return b.broken || before != b.state
    }

    /// Sleeps until the bastion's socket, a bridge's socket or the wake-up pipe has something.
    private func waitForWork() {
        var fds: [pollfd] = [pollfd(fd: wakeRead, events: Int16(POLLIN), revents: 0)]
        var bastion = Int16(POLLIN)
        if libssh2_session_block_directions(connection.session) & LIBSSH2_SESSION_BLOCK_OUTBOUND != 0 {
            bastion |= Int16(POLLOUT)
        }
        fds.append(pollfd(fd: connection.fd, events: bastion, revents: 0))
        for b in bridges {
            var ev: Int16 = 0
            if b.toChannelAt == b.toChannel.count && !b.localEOF { ev |= Int16(POLLIN) }
            if b.toSocketAt < b.toSocket.count { ev |= Int16(POLLOUT) }
            fds.append(pollfd(fd: b.fd, events: ev, revents: 0))
        }
        var timeout: Int32 = opening.isEmpty && inProgress == nil && closing.isEmpty ? 1000 : 20
        // Data libssh2 already took off the socket, or window a blocked write can use now: no sleep.
        let outboundBlocked = libssh2_session_block_directions(connection.session) & LIBSSH2_SESSION_BLOCK_OUTBOUND != 0
        for b in bridges {
            var avail: UInt = 0
            if b.toSocketAt == b.toSocket.count && !b.remoteEOF
                && libssh2_channel_window_read_ex(b.channel, &avail, nil) >= 0 && avail > 0
            {
                timeout = 0
            }
            if b.toChannelAt < b.toChannel.count && !outboundBlocked
                && libssh2_channel_window_write_ex(b.channel, nil) > 0
            {
                timeout = 0
            }
        }
        if connection.keepaliveInterval > 0 {
            var next: Int32 = 0
            if libssh2_keepalive_send(connection.session, &next) == 0, next > 0 { timeout = min(timeout, next * 1000) }
        }
        _ = poll(&fds, nfds_t(fds.count), timeout)
        if fds[0].revents != 0 {
            var sink = [UInt8](repeating: 0, count: 256)
            while read(wakeRead, &sink, sink.count) > 0 {}
        }
    }

    /// Channels being closed: a non-blocking close or free may need another turn of the loop.
    private var closing: [OpaquePointer] = []

    private func release(_ b: Bridge) {
        close(b.fd)
        closing.append(b.channel)
        retryClosing()
    }

    private func retryClosing() {
        closing.removeAll { channel in
            let rc = libssh2_channel_close(channel)
            if rc == LIBSSH2_ERROR_EAGAIN { return false }
            return libssh2_channel_free(channel) != LIBSSH2_ERROR_EAGAIN
        }
    }

    /// Stop: fail what waits, close every bridge, disconnect from the bastion.
    private func finish(pending: [Request]) {
        let started = inProgress.flatMap { $0.abandoned ? nil : $0.request }
        inProgress = nil
        for r in (started.map { [$0] } ?? []) + opening + pending {
            r.done(
                .failure(
                    SSHError(
                        kind: .closed, host: r.host, operation: "jump", message: "the jump host's session is closed")))
        }
        opening.removeAll()
        for b in bridges { close(b.fd) }
        bridges.removeAll()
        connection.shutdown()
        close(wakeRead)
        close(wakeWrite)
    }
}
