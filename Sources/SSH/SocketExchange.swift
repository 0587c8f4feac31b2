import FoundationEssentials
import ShipitSupport

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// One request over a plain TCP connection, read until the far end closes (an HTTP/1.0 health
/// check): made from the deployer itself, or over a socket a jump host bridged. The deployer's own
/// view of a port is what users outside the host get; a tunnel through the host's session is not.
public enum SocketExchange {
    /// Connects from this machine to host:port, sends `request`, returns the answer. A refused or
    /// unanswered connect is a `.tunnel` error like a tunnel's: the port, not the SSH link, failed.
    public static func request(host: String, port: Int, request: Data, maxResponse: Int, timeout: Double) async throws
        -> Data
    {
        try await onThread {
            let deadline = ContinuousClock.now.advanced(by: .milliseconds(Int(timeout * 1000)))
            let fd: Int32
            do { fd = try TCPSocket.connect(host: host, port: port, deadline: deadline) } catch let e as SSHError {
                throw SSHError(
                    kind: e.kind == .timeout ? .timeout : .tunnel, host: host,
                    operation: "connect to \(host):\(port) from the deployer", message: e.message)
            }
            defer { close(fd) }
            return try exchange(fd, host: host, request: request, maxResponse: maxResponse, deadline: deadline)
        }
    }

    /// The same over an already connected socket (owned and closed here).
    static func request(over fd: Int32, host: String, request: Data, maxResponse: Int, timeout: Double) async throws
        -> Data
    {
        try await onThread {
            defer { close(fd) }
            _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
            let deadline = ContinuousClock.now.advanced(by: .milliseconds(Int(timeout * 1000)))
            return try exchange(fd, host: host, request: request, maxResponse: maxResponse, deadline: deadline)
        }
    }

    private static func onThread<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            DetachedThread.start { continuation.resume(with: Result { try body() }) }
        }
    }

    private static func exchange(
        _ fd: Int32, host: String, request: Data, maxResponse: Int, deadline: ContinuousClock.Instant
    ) throws -> Data {
        func wait(_ events: Int32, _ what: String) throws {
            while true {
                let ms = TCPSocket.millisecondsUntil(deadline)
                if ms <= 0 { throw SSHError(kind: .timeout, host: host, operation: what, message: "timed out") }
                var pfd = pollfd(fd: fd, events: Int16(events), revents: 0)
                let n = poll(&pfd, 1, ms)
                if n > 0 || (n < 0 && errno != EINTR) { return }
            }
        }
        func failure(_ what: String) -> SSHError {
            SSHError(kind: .tunnel, host: host, operation: what, message: String(cString: strerror(errno)))
        }
        let bytes = [UInt8](request)
        var offset = 0
        while offset < bytes.count {
            let n = bytes[offset...].withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if n > 0 {
                offset += n
                continue
            }
            if n < 0 && (errno == EAGAIN || errno == EINTR) {
                try wait(POLLOUT, "send")
                continue
            }
            throw failure("send")
        }
        var answer = Data()
        var buffer = [UInt8](repeating: 0, count: 64 * 1024)
        while answer.count < maxResponse {
            let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n > 0 {
                answer.append(contentsOf: buffer[0..<n])
                continue
            }
            if n == 0 { break }
            if errno == EAGAIN || errno == EINTR {
                try wait(POLLIN, "receive")
                continue
            }
            // A reset after the answer came (the server closed with unread input) ends it too.
            if errno == ECONNRESET, !answer.isEmpty { break }
            throw failure("receive")
        }
        return answer
    }
}
