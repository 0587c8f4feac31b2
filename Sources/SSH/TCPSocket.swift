import FoundationEssentials

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// A non-blocking TCP connection with a bounded connect, the socket libssh2 runs on.
enum TCPSocket {
    static func connect(host: String, port: Int, deadline: ContinuousClock.Instant) throws -> Int32 {
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        #if canImport(Glibc)
            hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        #else
            hints.ai_socktype = SOCK_STREAM
        #endif
        var list: UnsafeMutablePointer<addrinfo>?
        let rc = getaddrinfo(host, String(port), &hints, &list)
        guard rc == 0, let first = list else {
            let reason = rc == 0 ? "no address" : String(cString: gai_strerror(rc))
            throw SSHError(kind: .resolve, host: host, operation: "resolve", message: reason)
        }
        defer { freeaddrinfo(list) }

        var lastError = "no address to try"
        var cursor: UnsafeMutablePointer<addrinfo>? = first
        while let ai = cursor {
            cursor = ai.pointee.ai_next
            let fd = socket(ai.pointee.ai_family, ai.pointee.ai_socktype, ai.pointee.ai_protocol)
            if fd < 0 {
                lastError = String(cString: strerror(errno))
                continue
            }
            _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
            var one: Int32 = 1
            _ = setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
            _ = setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, socklen_t(MemoryLayout<Int32>.size))
            if Glibc.connect(fd, ai.pointee.ai_addr, ai.pointee.ai_addrlen) == 0 { return fd }
            if errno != EINPROGRESS {
                lastError = String(cString: strerror(errno))
                close(fd)
                continue
            }
            switch waitWritable(fd, deadline: deadline) {
            case .ready:
                var soError: Int32 = 0
                var len = socklen_t(MemoryLayout<Int32>.size)
                getsockopt(fd, SOL_SOCKET, SO_ERROR, &soError, &len)
                if soError == 0 { return fd }
                lastError = String(cString: strerror(soError))
                close(fd)
            case .timedOut:
                close(fd)
                throw SSHError(kind: .timeout, host: host, operation: "connect to port \(port)", message: "timed out")
            }
        }
        throw SSHError(kind: .connect, host: host, operation: "connect to port \(port)", message: lastError)
    }

    enum WaitResult { case ready, timedOut }

    private static func waitWritable(_ fd: Int32, deadline: ContinuousClock.Instant) -> WaitResult {
        while true {
            let ms = millisecondsUntil(deadline)
            if ms <= 0 { return .timedOut }
            var pfd = pollfd(fd: fd, events: Int16(POLLOUT), revents: 0)
            let n = poll(&pfd, 1, ms)
            if n > 0 { return .ready }
            if n < 0 && errno != EINTR { return .ready }  // let SO_ERROR explain it
        }
    }

    static func millisecondsUntil(_ deadline: ContinuousClock.Instant) -> Int32 {
        let remaining = ContinuousClock.now.duration(to: deadline)
        let ms = remaining.components.seconds * 1000 + remaining.components.attoseconds / 1_000_000_000_000_000
        return Int32(clamping: max(0, ms))
    }
}
