import CLibSSH2
import FoundationEssentials
import ShipitSupport

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

extension Connection {
    /// Runs `command` on a pseudo-terminal (what `ssh -t` does), wired to the local descriptors
    /// `input` and `output` until it exits: keystrokes go to the channel as they come, everything
    /// the terminal prints comes back through `filter` (a pty merges stderr into it). Returns the
    /// exit status.
    func interactive(
        _ command: String, term: String, columns: Int, rows: Int, input: Int32, output: Int32,
        connectTimeout: Double, filter: TerminalOutputFilter? = nil
    ) throws -> ExitStatus {
        let setup = ContinuousClock.now.advanced(by: .milliseconds(Int(connectTimeout * 1000)))
        let channel = try openSessionChannel(deadline: setup)
        var graceful = true
        defer { closeChannel(channel, graceful: graceful) }
        let termBytes = Array(term.utf8)
        try termBytes.withUnsafeBufferPointer { t in
            try t.withMemoryRebound(to: CChar.self) { ct in
                try retry("request a terminal", deadline: setup, kind: .exec) {
                    libssh2_channel_request_pty_ex(
                        channel, ct.baseAddress, UInt32(ct.count), nil, 0, Int32(columns), Int32(rows), 0, 0)
                }
            }
        }
        // One SSH packet at most: a longer command goes compressed (LongCommand).
        let bytes = Array(try LongCommand.wire(command, host: host).utf8)
        try bytes.withUnsafeBufferPointer { buf in
            try buf.withMemoryRebound(to: CChar.self) { cbuf in
                try retry("start command", deadline: setup, kind: .exec) {
                    libssh2_channel_process_startup(channel, "exec", 4, cbuf.baseAddress, UInt32(cbuf.count))
                }
            }
        }

        var inputOpen = true
        var buffer = [UInt8](repeating: 0, count: 32 * 1024)
        do {
            loop: while true {
                // Everything the remote side printed, to the local terminal.
                for stream in [Int32(0), SSH_EXTENDED_DATA_STDERR] {
                    while true {
                        let n = buffer.withUnsafeMutableBytes {
                            libssh2_channel_read_ex(
                                channel, stream, $0.baseAddress!.assumingMemoryBound(to: CChar.self), $0.count)
                        }
                        if n > 0 {
                            if let filter {
                                let shown = filter.feed(buffer[0..<n])
                                if !shown.isEmpty { try FileDescriptorIO.write(output, shown[...]) }
                            } else {
                                try FileDescriptorIO.write(output, buffer[0..<n])
                            }
                            continue
                        }
                        if n == Int(LIBSSH2_ERROR_EAGAIN) || n == 0 { break }
                        throw error(.exec, "read terminal output")
                    }
                }
                if libssh2_channel_eof(channel) != 0 { break loop }
                let holding = filter?.isHolding() == true
                // Wait for the server, or for a keystroke while stdin is open.
                var fds = [pollfd(fd: fd, events: Int16(POLLIN), revents: 0)]
                let dirs = libssh2_session_block_directions(session)
                if dirs & LIBSSH2_SESSION_BLOCK_OUTBOUND != 0 { fds[0].events |= Int16(POLLOUT) }
                if inputOpen { fds.append(pollfd(fd: input, events: Int16(POLLIN), revents: 0)) }
                // Output held back by the filter waits a short while for what completes it.
                let ready = poll(&fds, nfds_t(fds.count), holding ? filter!.flushAfterMs : 1000)
                if ready < 0 && errno != EINTR {
                    throw error(.closed, "wait for terminal input", String(cString: strerror(errno)))
                }
                if holding, ready == 0, let held = filter?.flush(), !held.isEmpty {
                    try FileDescriptorIO.write(output, held[...])
                }
                if keepaliveInterval > 0 {
                    var next: Int32 = 0
                    let rc = libssh2_keepalive_send(session, &next)
                    if rc < 0 && rc != LIBSSH2_ERROR_EAGAIN { throw error(.connectionLost, "keepalive") }
                }
                guard inputOpen, fds.count > 1, fds[1].revents != 0 else { continue }
                let n = read(input, &buffer, buffer.count)
                if n < 0 && (errno == EINTR || errno == EAGAIN) { continue }
                if n <= 0 {
                    // The local side closed: tell the remote command its input ended.
                    inputOpen = false
                    _ = try retry("send end of input", deadline: nil) { libssh2_channel_send_eof(channel) }
                    continue
                }
                var offset = 0
                while offset < n {
                    let w = buffer[offset..<n].withUnsafeBytes {
                        libssh2_channel_write_ex(
                            channel, 0, $0.baseAddress!.assumingMemoryBound(to: CChar.self), $0.count)
                    }
                    if w > 0 {
                        offset += w
                        continue
                    }
                    if w == Int(LIBSSH2_ERROR_EAGAIN) || w == 0 {
                        try waitSocket("write terminal input", deadline: nil, maxWaitMs: 200)
                        continue
                    }
                    throw error(.exec, "write terminal input")
                }
            }
        } catch let e as SSHError {
            graceful = e.kind != .closed && e.kind != .connectionLost
            throw e
        }
        if let held = filter?.flush(), !held.isEmpty { try? FileDescriptorIO.write(output, held[...]) }
        _ = try retry("close channel", deadline: nil) { libssh2_channel_close(channel) }
        _ = try retry("wait for exit", deadline: ContinuousClock.now.advanced(by: .seconds(10))) {
            libssh2_channel_wait_closed(channel)
        }
        return exitStatus(channel)
    }
}
