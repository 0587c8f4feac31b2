import CLibSSH2
import FoundationEssentials

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// How to move a file to a host. SFTP is the default: with 1 MiB writes libssh2 pipelines its packets,
/// and `make bench` measured it faster than libssh2's SCP (and than OpenSSH scp) on loopback.
public enum UploadMethod: String, Sendable, CaseIterable {
    case scp, sftp
}

extension Connection {
    private static let ioChunk = 1024 * 1024

    func upload(localPath: String, remotePath: String, mode: Int32, method: UploadMethod, timeout: Double?) throws
        -> Int64
    {
        let deadline = timeout.map { ContinuousClock.now.advanced(by: .milliseconds(Int($0 * 1000))) }
        let file = Glibc.open(localPath, O_RDONLY)
        guard file >= 0 else {
            throw SSHError(
                kind: .transfer, host: host, operation: "upload \(localPath)",
                message: "cannot open local file: \(String(cString: strerror(errno)))")
        }
        defer { close(file) }
        var st = stat()
        fstat(file, &st)
        let size = Int64(st.st_size)
        switch method {
        case .scp: try scpSend(file: file, size: size, remotePath: remotePath, mode: mode, deadline: deadline)
        case .sftp: try sftpSend(file: file, remotePath: remotePath, mode: mode, deadline: deadline)
        }
        return size
    }

    private func scpSend(file: Int32, size: Int64, remotePath: String, mode: Int32, deadline: ContinuousClock.Instant?)
        throws
    {
        let op = "upload to \(remotePath) (scp)"
        let channel = try retryPointer(op, deadline: deadline, kind: .transfer) {
            libssh2_scp_send64(session, remotePath, mode & 0o777, size, 0, 0)
        }
        var graceful = false
        defer { closeChannel(channel, graceful: graceful) }
        let buffer = UnsafeMutableRawPointer.allocate(byteCount: Self.ioChunk, alignment: 16)
        defer { buffer.deallocate() }
        var sent: Int64 = 0
        while sent < size {
            let got = read(file, buffer, Self.ioChunk)
            if got <= 0 {
                throw SSHError(
                    kind: .transfer, host: host, operation: op, message: "local read failed after \(sent) bytes")
            }
            var offset = 0
            while offset < got {
                let n = libssh2_channel_write_ex(
                    channel, 0, buffer.advanced(by: offset).assumingMemoryBound(to: CChar.self), got - offset)
                if n == Int(LIBSSH2_ERROR_EAGAIN) {
                    try waitSocket(op, deadline: deadline)
                    continue
                }
                if n < 0 { throw error(.transfer, op) }
                offset += n
            }
            sent += Int64(got)
        }
        // The SCP protocol ends a file with one zero byte; without it OpenSSH's `scp -t` reports
        // "lost connection" and exits 1 even though every byte arrived.
        var zero: CChar = 0
        while true {
            let n = libssh2_channel_write_ex(channel, 0, &zero, 1)
            if n == Int(LIBSSH2_ERROR_EAGAIN) {
                try waitSocket(op, deadline: deadline)
                continue
            }
            if n < 0 { throw error(.transfer, op) }
            if n == 1 { break }
        }
        try retry(op, deadline: deadline, kind: .transfer) { libssh2_channel_send_eof(channel) }
        try retry(op, deadline: deadline, kind: .transfer) { libssh2_channel_wait_eof(channel) }
        graceful = true
        try retry(op, deadline: deadline, kind: .transfer) { libssh2_channel_close(channel) }
        try retry(op, deadline: deadline, kind: .transfer) { libssh2_channel_wait_closed(channel) }
        let status = libssh2_channel_get_exit_status(channel)
        if status != 0 {
            throw SSHError(kind: .transfer, host: host, operation: op, message: "remote scp exited with \(status)")
        }
    }

    private func sftpSend(file: Int32, remotePath: String, mode: Int32, deadline: ContinuousClock.Instant?) throws {
        let op = "upload to \(remotePath) (sftp)"
        let sftp = try sftp(deadline: deadline)
        let flags = UInt(LIBSSH2_FXF_WRITE | LIBSSH2_FXF_CREAT | LIBSSH2_FXF_TRUNC)
        let handle = try retryPointer(op, deadline: deadline, kind: .transfer) {
            libssh2_sftp_open_ex(
                sftp, remotePath, UInt32(remotePath.utf8.count), flags, Int(mode & 0o777), LIBSSH2_SFTP_OPENFILE)
        }
        defer {
            _ = try? retry(op, deadline: ContinuousClock.now.advanced(by: .seconds(2))) {
                libssh2_sftp_close_handle(handle)
            }
        }
        let buffer = UnsafeMutableRawPointer.allocate(byteCount: Self.ioChunk, alignment: 16)
        defer { buffer.deallocate() }
        while true {
            let got = read(file, buffer, Self.ioChunk)
            if got == 0 { break }
            if got < 0 { throw SSHError(kind: .transfer, host: host, operation: op, message: "local read failed") }
            var offset = 0
            // Large writes let libssh2 pipeline many packets per round trip.
            while offset < got {
                let n = libssh2_sftp_write(
                    handle, buffer.advanced(by: offset).assumingMemoryBound(to: CChar.self), got - offset)
                if n == Int(LIBSSH2_ERROR_EAGAIN) {
                    try waitSocket(op, deadline: deadline)
                    continue
                }
                if n < 0 { throw error(.transfer, op, sftpError(sftp)) }
                offset += n
            }
        }
    }

    func readFile(_ remotePath: String, maxBytes: Int, timeout: Double?) throws -> Data {
        let deadline = timeout.map { ContinuousClock.now.advanced(by: .milliseconds(Int($0 * 1000))) }
        let op = "read \(remotePath)"
        let sftp = try sftp(deadline: deadline)
        let handle = try retryPointer(op, deadline: deadline, kind: .transfer) {
            libssh2_sftp_open_ex(
                sftp, remotePath, UInt32(remotePath.utf8.count), UInt(LIBSSH2_FXF_READ), 0, LIBSSH2_SFTP_OPENFILE)
        }
        defer {
            _ = try? retry(op, deadline: ContinuousClock.now.advanced(by: .seconds(2))) {
                libssh2_sftp_close_handle(handle)
            }
        }
        var data = Data()
        let buffer = UnsafeMutablePointer<CChar>.allocate(capacity: 64 * 1024)
        defer { buffer.deallocate() }
        while true {
            let n = libssh2_sftp_read(handle, buffer, 64 * 1024)
            if n == Int(LIBSSH2_ERROR_EAGAIN) {
                try waitSocket(op, deadline: deadline)
                continue
            }
            if n < 0 { throw error(.transfer, op, sftpError(sftp)) }
            if n == 0 { return data }
            data.append(UnsafeRawPointer(buffer).assumingMemoryBound(to: UInt8.self), count: n)
            if data.count > maxBytes {
                throw SSHError(
                    kind: .transfer, host: host, operation: op, message: "file is larger than \(maxBytes) bytes")
            }
        }
    }

    private func sftpError(_ sftp: OpaquePointer) -> String {
        let code = libssh2_sftp_last_error(sftp)
        switch Int(code) {
        case Int(LIBSSH2_FX_NO_SUCH_FILE): return "no such file"
        case Int(LIBSSH2_FX_PERMISSION_DENIED): return "permission denied"
        case Int(LIBSSH2_FX_NO_SPACE_ON_FILESYSTEM): return "no space left on device"
        case Int(LIBSSH2_FX_FAILURE): return "failure"
        default: return code == 0 ? lastError() : "SFTP error \(code)"
        }
    }
}
