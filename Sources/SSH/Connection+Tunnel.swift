import CLibSSH2
import FoundationEssentials

extension Connection {
    /// Opens a direct-tcpip channel: a TCP connection made *by the server* to host:port, so the
    /// deployer can reach ports that only listen on the host's own address.
    func openTunnel(host remoteHost: String, port: Int, deadline: ContinuousClock.Instant?) throws -> OpaquePointer {
        try retryPointer("tunnel to \(remoteHost):\(port)", deadline: deadline, kind: .tunnel) {
            libssh2_channel_direct_tcpip_ex(session, remoteHost, Int32(port), "127.0.0.1", 22)
        }
    }

    func tunnelWrite(_ channel: OpaquePointer, _ data: Data, deadline: ContinuousClock.Instant?) throws {
        var offset = 0
        while offset < data.count {
            let n = data.withUnsafeBytes { raw in
                libssh2_channel_write_ex(
                    channel, 0, raw.baseAddress!.advanced(by: offset).assumingMemoryBound(to: CChar.self),
                    raw.count - offset)
            }
            if n == Int(LIBSSH2_ERROR_EAGAIN) {
                try waitSocket("tunnel write", deadline: deadline)
                continue
            }
            if n < 0 { throw error(.tunnel, "tunnel write") }
            offset += n
        }
    }

    /// Reads until the far end closes (or `maxBytes`), e.g. an HTTP/1.0 response.
    func tunnelReadToEnd(_ channel: OpaquePointer, maxBytes: Int, deadline: ContinuousClock.Instant?) throws -> Data {
        var data = Data()
        let buffer = UnsafeMutablePointer<CChar>.allocate(capacity: 64 * 1024)
        defer { buffer.deallocate() }
        while data.count < maxBytes {
            let n = libssh2_channel_read_ex(channel, 0, buffer, 64 * 1024)
            if n == Int(LIBSSH2_ERROR_EAGAIN) {
                try waitSocket("tunnel read", deadline: deadline)
                continue
            }
            if n < 0 { throw error(.tunnel, "tunnel read") }
            if n == 0 {
                if libssh2_channel_eof(channel) != 0 { break }
                try waitSocket("tunnel read", deadline: deadline)
                continue
            }
            data.append(UnsafeRawPointer(buffer).assumingMemoryBound(to: UInt8.self), count: n)
        }
        return data
    }
}
