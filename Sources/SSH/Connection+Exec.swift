import CLibSSH2
import FoundationEssentials
import ShipitSupport

extension Connection {
    /// Runs one command on an exec channel. Both streams are read as they arrive (an unread stream
    /// fills the channel window and hangs the command); `stdin`, if any, is written interleaved with
    /// the reads and then closed. `onOutput` sees every chunk; the result keeps each stream's tail.
    func exec(
        _ command: String,
        stdin: Data?,
        timeout: Double?,
        captureLimit: Int,
        onOutput: ((OutputChannel, Data) -> Void)?
    ) throws -> ExecResult {
        try exec(
            command, input: stdin.map { DataInput($0) }, timeout: timeout, captureLimit: captureLimit,
            onOutput: onOutput)
    }

    /// `exec` with stdin read from `input` as the channel window allows (a file is streamed in
    /// chunks, never held in memory whole).
    func exec(
        _ command: String,
        input source: ExecInput?,
        timeout: Double?,
        captureLimit: Int,
        onOutput: ((OutputChannel, Data) -> Void)?
    ) throws -> ExecResult {
        let deadline = timeout.map { ContinuousClock.now.advanced(by: .milliseconds(Int($0 * 1000))) }
        let operation = "exec"
        let channel = try openSessionChannel(deadline: deadline)
        var graceful = true
        defer { closeChannel(channel, graceful: graceful) }

        // One SSH packet at most: a longer command goes compressed (LongCommand); UTF-8 byte counts.
        let bytes = Array(try LongCommand.wire(command, host: host).utf8)
        try bytes.withUnsafeBufferPointer { buf in
            try buf.withMemoryRebound(to: CChar.self) { cbuf in
                try retry("start command", deadline: deadline, kind: .exec) {
                    libssh2_channel_process_startup(channel, "exec", 4, cbuf.baseAddress, UInt32(cbuf.count))
                }
            }
        }

        var out = TailBuffer(limit: captureLimit)
        var err = TailBuffer(limit: captureLimit)
        let input = source ?? DataInput(Data())
        var inputClosed = false
        let chunk = UnsafeMutableRawBufferPointer.allocate(byteCount: 256 * 1024, alignment: 8)
        defer { chunk.deallocate() }

        do {
            while true {
                var progressed = false
                // What the blocked write waits for (the socket writable, or a window adjust): the
                // reads below overwrite libssh2's block directions, and waiting for input alone
                // would leave a writable socket idle until the server happens to send something.
                var writeBlocked: Int32 = 0
                if !inputClosed {
                    // Write what is pending until the channel window is full (EAGAIN), then read.
                    while let pending = try input.pending(host: host) {
                        let n = libssh2_channel_write_ex(
                            channel, 0, pending.baseAddress!.assumingMemoryBound(to: CChar.self), pending.count)
                        if n > 0 {
                            input.consumed(n)
                            progressed = true
                            continue
                        }
                        // 0: no window left and no EAGAIN from the transport; wait for an adjust.
                        if n != Int(LIBSSH2_ERROR_EAGAIN) && n != 0 {
                            // A dead link is an error; a command that ended without reading all of
                            // its stdin (a refused lock, a full disk) is not: its output says why.
                            if Self.socketErrors.contains(Int32(n)) { throw error(.exec, "write stdin") }
                            inputClosed = true
                            break
                        }
                        writeBlocked =
                            n == 0 ? LIBSSH2_SESSION_BLOCK_INBOUND : libssh2_session_block_directions(session)
                        break
                    }
                    if input.finished {
                        let rc = libssh2_channel_send_eof(channel)
                        if rc == 0 {
                            inputClosed = true
                            progressed = true
                        } else if rc != LIBSSH2_ERROR_EAGAIN {
                            inputClosed = true
                        }  // the command may have exited already
                    }
                }
                let gotOut = try drain(channel, stream: 0, into: &out, chunk: chunk, kind: .stdout, onOutput: onOutput)
                let gotErr = try drain(
                    channel, stream: SSH_EXTENDED_DATA_STDERR, into: &err, chunk: chunk, kind: .stderr,
                    onOutput: onOutput)
                if gotOut == .eof && gotErr == .eof && libssh2_channel_eof(channel) != 0 { break }
                if gotOut == .data || gotErr == .data { progressed = true }
                // Held stdin (a follow): wake often enough to see the stop soon.
                if !progressed {
                    try waitSocket(
                        operation, deadline: deadline, also: writeBlocked, maxWaitMs: input is HeldInput ? 200 : 1000)
                }
            }
        } catch let e as SSHError {
            graceful = e.kind != .timeout && e.kind != .closed && e.kind != .connectionLost
            throw e
        }

        _ = try retry("close channel", deadline: deadline) { libssh2_channel_close(channel) }
        _ = try retry("wait for exit", deadline: deadline) { libssh2_channel_wait_closed(channel) }
        let status = exitStatus(channel)
        return ExecResult(
            status: status, stdout: out.data, stderr: err.data, stdoutDropped: out.dropped, stderrDropped: err.dropped)
    }

    enum DrainResult { case data, wouldBlock, eof }

    /// Reads everything currently available on one stream.
    private func drain(
        _ channel: OpaquePointer, stream: Int32, into buffer: inout TailBuffer,
        chunk: UnsafeMutableRawBufferPointer, kind: OutputChannel, onOutput: ((OutputChannel, Data) -> Void)?
    ) throws -> DrainResult {
        var result = DrainResult.wouldBlock
        while true {
            let n = libssh2_channel_read_ex(
                channel, stream, chunk.baseAddress!.assumingMemoryBound(to: CChar.self), chunk.count)
            if n > 0 {
                let slice = UnsafeRawBufferPointer(rebasing: chunk[0..<n])
                buffer.append(slice)
                onOutput?(kind, Data(slice))
                result = .data
                continue
            }
            if n == Int(LIBSSH2_ERROR_EAGAIN) { return result }
            if n == 0 { return result == .data ? .data : .eof }
            throw error(.exec, "read output")
        }
    }

    func exitStatus(_ channel: OpaquePointer) -> ExitStatus {
        let code = libssh2_channel_get_exit_status(channel)
        var sig: UnsafeMutablePointer<CChar>?
        var sigLen = 0
        _ = libssh2_channel_get_exit_signal(channel, &sig, &sigLen, nil, nil, nil, nil)
        if let sig, sigLen > 0 {
            let name = String(cString: sig)
            libssh2_free(session, sig)
            return ExitStatus(code: -1, signal: name)
        }
        return ExitStatus(code: code)
    }
}
