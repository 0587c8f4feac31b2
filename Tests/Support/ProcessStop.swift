import Foundation

extension Process {
    /// SIGTERM (or `signal`) only while the child runs: once Foundation has reaped it, its pid may
    /// already name another process of the machine (a test's own shipit run, which would stop as
    /// if an operator had pressed ^C).
    public func stopIfRunning(_ signal: Int32 = SIGTERM) {
        if isRunning { kill(processIdentifier, signal) }
    }
}

extension Local {
    /// A loopback TCP port nothing listens on now (the kernel's choice, then released): a helper
    /// server started on it a moment later does not collide with another test's.
    public static func freePort() -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return Int.random(in: 30000...32000) }
        defer { close(fd) }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        addr.sin_port = 0
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        let ok = withUnsafeMutablePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(fd, $0, len) == 0 && getsockname(fd, $0, &len) == 0
            }
        }
        return ok ? Int(UInt16(bigEndian: addr.sin_port)) : Int.random(in: 30000...32000)
    }
}
