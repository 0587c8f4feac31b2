import Foundation

extension Local {
    /// A TCP socket bound to 127.0.0.1 on a port the kernel chose, and that port (nil if the
    /// kernel would not give one).
    public static func boundLoopbackSocket() -> (fd: Int32, port: Int)? {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return nil }
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
        guard ok else {
            close(fd)
            return nil
        }
        return (fd, Int(UInt16(bigEndian: addr.sin_port)))
    }

    /// A loopback TCP port nothing listens on now (the kernel's choice, then released): a helper
    /// server started on it a moment later does not collide with another test's.
    public static func freePort() -> Int {
        guard let (fd, port) = boundLoopbackSocket() else { return Int.random(in: 30000...32000) }
        close(fd)
        return port
    }
}
