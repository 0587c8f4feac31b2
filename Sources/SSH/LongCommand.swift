import CZlib
import FoundationEssentials

/// libssh2 sends an exec request in one SSH packet of at most 35,000 bytes: a longer command cannot
/// be sent at all ("Unable to send channel request"). A command over `limit` is sent gzip-compressed
/// and base64-encoded instead, unpacked by the remote shell (`base64` and `gzip`, in coreutils and
/// BusyBox) and evaluated in that same shell, so its stdin, exit status and `exit` are the command's.
enum LongCommand {
    static let limit = 32 * 1024

    /// The text to send for `command` on `host`.
    static func wire(_ command: String, host: String) throws -> String {
        guard command.utf8.count > limit else { return command }
        let packed = try gzip(Array(command.utf8), host: host).base64EncodedString()
        // A failed unpack must not look like a command that ran and printed nothing.
        let wire = """
            if __shipit_command=$(printf %s '\(packed)' | base64 -d | gzip -dc) && [ -n "$__shipit_command" ]; then eval "$__shipit_command"; else echo "cannot unpack a long command (base64 and gzip are needed)" >&2; exit 127; fi
            """
        guard wire.utf8.count <= limit else {
            throw SSHError(
                kind: .exec, host: host, operation: "start command",
                message: "the command is \(command.utf8.count) bytes, too long to send even compressed")
        }
        return wire
    }

    static func gzip(_ input: [UInt8], host: String) throws -> Data {
        var stream = z_stream()
        // windowBits 15 + 16: a gzip header and trailer, which `gzip -d` reads.
        guard
            deflateInit2_(
                &stream, Z_BEST_COMPRESSION, Z_DEFLATED, 15 + 16, 9, Z_DEFAULT_STRATEGY, ZLIB_VERSION,
                Int32(MemoryLayout<z_stream>.size)) == Z_OK
        else {
            throw SSHError(kind: .internalError, host: host, operation: "compress command", message: "deflateInit2")
        }
        defer { deflateEnd(&stream) }
        var output = [UInt8](repeating: 0, count: Int(deflateBound(&stream, UInt(input.count))) + 32)
        var source = input
        let status = source.withUnsafeMutableBufferPointer { src in
            output.withUnsafeMutableBufferPointer { dst in
                stream.next_in = src.baseAddress
                stream.avail_in = UInt32(src.count)
                stream.next_out = dst.baseAddress
                stream.avail_out = UInt32(dst.count)
                return deflate(&stream, Z_FINISH)
            }
        }
        guard status == Z_STREAM_END else {
            throw SSHError(
                kind: .internalError, host: host, operation: "compress command", message: "deflate \(status)")
        }
        return Data(output.prefix(Int(stream.total_out)))
    }
}
