import CZlib
import Crypto
import FoundationEssentials
import Glibc
import ShipitSupport
import Synchronization

/// gzip that compresses only what shrinks: a file deflated a MiB block at a time, each block at
/// level 6 when a probe of its first 64 KiB at level 1 shrinks by a tenth, stored (level 0:
/// copied, with its CRC) when it does not.
/// The output is one ordinary gzip stream (`tar -xz`, BusyBox's too) whose bytes depend only on
/// the input (mtime 0, no name), so the same tree gives the same artifact and release id.
/// An incompressible release (media, already-compressed bundles) costs a copy instead of gzip's
/// ~40 MB/s.
public enum AdaptiveGzip {
    static let block = 1 << 20
    static let probe = 64 << 10
    /// A probe must shrink below this share of its size for its block to be compressed.
    static let worthIt = 0.9

    public struct Result: Sendable, Equatable {
        public var bytesIn: Int64
        public var bytesOut: Int64
        /// Blocks stored as they are (incompressible), out of all blocks.
        public var storedBlocks: Int
        public var blocks: Int
        /// sha256 of what was written (hashed on the way out: the file is not read again).
        public var sha256 = ""
        /// The sha256 of the uncompressed copy asked for (`plain`), when it was kept to the end:
        /// gzip never saved enough on the way for it to be dropped.
        public var plainSHA256: String?
    }

    /// What `argv` writes to `fifo` (a path it is told to write to), compressed into `output` as
    /// it is written: nothing uncompressed is kept on disk. `argv`'s exit status is checked.
    /// `observe` sees the uncompressed bytes as they go by.
    public static func compress(
        from argv: [String], through fifo: String, to output: String, plain: String? = nil,
        observe: (UnsafeRawBufferPointer) -> Void = { _ in }
    ) throws -> Result {
        try? FileManager.default.removeItem(atPath: fifo)
        guard mkfifo(fifo, 0o600) == 0 else { throw ShipitError("cannot create \(fifo)") }
        defer { try? FileManager.default.removeItem(atPath: fifo) }
        let writer = OneShot<Swift.Result<(Int32, String), any Error>>()
        let readerOpened = Mutex(false)
        DetachedThread.start {
            let r = Swift.Result { try LocalProcess.runStatus(argv) }
            // A writer that failed before it opened the FIFO would leave the reader waiting in
            // open(2) for ever: a writer opened and closed here lets it see the end. Until the
            // reader is there, there is no one to open it for (ENXIO): asked again shortly.
            while true {
                let fd = open(fifo, O_WRONLY | O_NONBLOCK | O_CLOEXEC)
                if fd >= 0 {
                    close(fd)
                    break
                }
                if errno != ENXIO || readerOpened.withLock({ $0 }) { break }
                usleep(10_000)
            }
            writer.set(r)
        }
        let packed: Result
        do {
            packed = try compress(
                file: fifo, to: output, plain: plain, opened: { readerOpened.withLock { $0 = true } },
                observe: observe)
        } catch {
            // The writer stops on SIGPIPE (or was done already); its status explains nothing more.
            _ = writer.wait()
            throw error
        }
        let (status, text) = try writer.wait().get()
        guard status == 0 else { throw LocalProcess.Failure(argv: argv, status: status, output: text) }
        return packed
    }

    /// `plain`: also a copy of the input there, as long as gzip may still save too little to be
    /// worth unpacking (its result's `plainSHA256`): an incompressible release is then not
    /// inflated back afterwards. Removed as soon as gzip has saved enough.
    @discardableResult
    public static func compress(
        file input: String, to output: String, plain plainPath: String? = nil,
        plainJudgedAfter judged: Int = plainJudgedAfter, opened: () -> Void = {},
        observe: (UnsafeRawBufferPointer) -> Void = { _ in }
    ) throws -> Result {
        let inFD = open(input, O_RDONLY | O_CLOEXEC)
        opened()
        guard inFD >= 0 else { throw ShipitError("cannot read \(input) to compress it") }
        defer { close(inFD) }
        let out = try HashedFile(creating: output)
        var plain = try plainPath.map { try HashedFile(creating: $0) }
        func dropPlain() {
            if let p = plain { try? FileManager.default.removeItem(atPath: p.path) }
            plain = nil
        }
        var z = Deflater()
        guard z.start() else { throw ShipitError("cannot start compressing \(input) (zlib)") }
        defer { deflateEnd(&z.stream) }
        var inBuf = [UInt8](repeating: 0, count: block)
        var result = Result(bytesIn: 0, bytesOut: 0, storedBlocks: 0, blocks: 0)
        var level: Int32 = 6
        var finished = false
        let sink: ([UInt8], Int) throws -> Void = { buf, count in try out.write(buf[..<count]) }
        while !finished {
            let n = try readFull(inFD, &inBuf, path: input)
            finished = n < block
            inBuf.withUnsafeBytes { observe(UnsafeRawBufferPointer(rebasing: $0[..<n])) }
            // The copy only saves inflating the stream later: one that cannot be written (disk
            // full) is given up, not the build.
            do { try plain?.write(inBuf[..<n]) } catch { dropPlain() }
            // Each block at the level its first 64 KiB earns (a probe at level 1 costs ~1 ms).
            let next: Int32 = n > 0 && !shrinks(inBuf, n) ? 0 : 6
            if n > 0, next != level {
                try z.setLevel(next, sink)
                level = next
            }
            try inBuf.withUnsafeMutableBufferPointer { src in
                z.stream.next_in = src.baseAddress
                z.stream.avail_in = UInt32(n)
                try z.run(finished ? Z_FINISH : Z_NO_FLUSH, sink)
            }
            guard n > 0 else { continue }
            result.blocks += 1
            result.bytesIn += Int64(n)
            if level == 0 { result.storedBlocks += 1 }
            // After a few blocks the output no longer lags the input by much (deflate holds
            // at most its window): a tenth saved so far says gzip will be worth unpacking.
            if plain != nil, result.blocks >= judged,
                Double(out.bytes) < 0.9 * Double(result.bytesIn)
            {
                dropPlain()
            }
        }
        result.bytesOut = out.bytes
        result.sha256 = out.sha256
        if let p = plain {
            if notWorthUnpacking(result) { result.plainSHA256 = p.sha256 } else { dropPlain() }
        }
        return result
    }

    /// Blocks read before the plain copy may be judged not needed.
    public static let plainJudgedAfter = 8

    /// An output file hashed and counted as it is written (never read again for its sha256).
    final class HashedFile {
        let path: String
        private let fd: Int32
        private var hasher = SHA256()
        private(set) var bytes: Int64 = 0

        init(creating path: String) throws {
            self.path = path
            fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
            guard fd >= 0 else { throw ShipitError("cannot write \(path)") }
        }

        deinit { close(fd) }

        func write(_ buf: ArraySlice<UInt8>) throws {
            do { try FileDescriptorIO.write(fd, buf) } catch { throw ShipitError("cannot write \(path) (disk full?)") }
            buf.withUnsafeBytes { hasher.update(bufferPointer: $0) }
            bytes += Int64(buf.count)
        }

        var sha256: String { Digest.hex(hasher.finalize()) }
    }

    /// zlib's deflate with its output buffer: `run` feeds what `next_in` holds and writes what
    /// comes out; `setLevel` ends the current deflate block, then changes the level.
    struct Deflater {
        var stream = z_stream()
        var out = [UInt8](repeating: 0, count: 1 << 18)

        mutating func start() -> Bool {
            // windowBits 15 + 16: a gzip header (mtime 0, no name) and trailer.
            deflateInit2_(
                &stream, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY, ZLIB_VERSION,
                Int32(MemoryLayout<z_stream>.size)) == Z_OK
        }

        mutating func run(_ flush: Int32, _ sink: ([UInt8], Int) throws -> Void) throws {
            var status: Int32
            repeat {
                status = out.withUnsafeMutableBufferPointer { dst in
                    stream.next_out = dst.baseAddress
                    stream.avail_out = UInt32(dst.count)
                    return deflate(&stream, flush)
                }
                guard status == Z_OK || status == Z_STREAM_END || status == Z_BUF_ERROR else {
                    throw ShipitError("compressing failed (zlib \(status))")
                }
                let produced = out.count - Int(stream.avail_out)
                if produced > 0 { try sink(out, produced) }
            } while stream.avail_out == 0 && status != Z_STREAM_END
            // Z_FINISH with room left in the buffer has ended the stream, or the output is short.
            if flush == Z_FINISH && status != Z_STREAM_END {
                throw ShipitError("compressing failed (zlib did not finish: \(status))")
            }
        }

        mutating func setLevel(_ level: Int32, _ sink: ([UInt8], Int) throws -> Void) throws {
            stream.avail_in = 0
            try run(Z_BLOCK, sink)
            let status = out.withUnsafeMutableBufferPointer { dst in
                stream.next_out = dst.baseAddress
                stream.avail_out = UInt32(dst.count)
                return deflateParams(&stream, level, Z_DEFAULT_STRATEGY)
            }
            let produced = out.count - Int(stream.avail_out)
            if produced > 0 { try sink(out, produced) }
            guard status == Z_OK else { throw ShipitError("compressing failed (zlib deflateParams \(status))") }
        }
    }

    /// Below this share of the input, a gzip stream is worth the hosts' `gzip -d` (its CRC and
    /// copy cost each host about as much CPU as hashing); above it, the release goes as plain tar.
    public static let worthUnpacking = 0.95

    /// Whether the whole stream saved too little to be worth `gzip -d` on every host.
    public static func notWorthUnpacking(_ r: Result) -> Bool {
        r.bytesIn > 0 && Double(r.bytesOut) > worthUnpacking * Double(r.bytesIn)
    }

    /// `input` (one gzip stream) inflated into `output`; returns the sha256 of what was written.
    public static func decompress(file input: String, to output: String) throws -> String {
        let inFD = open(input, O_RDONLY | O_CLOEXEC)
        guard inFD >= 0 else { throw ShipitError("cannot read \(input) to decompress it") }
        defer { close(inFD) }
        let out = try HashedFile(creating: output)
        var stream = z_stream()
        guard inflateInit2_(&stream, 15 + 16, ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size)) == Z_OK else {
            throw ShipitError("cannot start decompressing \(input) (zlib)")
        }
        defer { inflateEnd(&stream) }
        var inBuf = [UInt8](repeating: 0, count: block)
        var outBuf = [UInt8](repeating: 0, count: block)
        var status = Z_OK
        while status != Z_STREAM_END {
            let n = try readFull(inFD, &inBuf, path: input)
            guard n > 0 else { throw ShipitError("\(input) ends before its gzip stream does") }
            try inBuf.withUnsafeMutableBufferPointer { src in
                stream.next_in = src.baseAddress
                stream.avail_in = UInt32(n)
                // zlib's loop: inflate until the output buffer is not filled up.
                repeat {
                    let produced = try outBuf.withUnsafeMutableBufferPointer { dst -> Int in
                        stream.next_out = dst.baseAddress
                        stream.avail_out = UInt32(dst.count)
                        status = inflate(&stream, Z_NO_FLUSH)
                        guard status == Z_OK || status == Z_STREAM_END || status == Z_BUF_ERROR else {
                            throw ShipitError("decompressing \(input) failed (zlib \(status))")
                        }
                        return dst.count - Int(stream.avail_out)
                    }
                    try out.write(outBuf[..<produced])
                } while stream.avail_out == 0 && status != Z_STREAM_END
            }
        }
        return out.sha256
    }

    /// Whether level 1 takes a tenth off the block's first 64 KiB.
    static func shrinks(_ buf: [UInt8], _ n: Int) -> Bool {
        let len = min(n, probe)
        var bound = compressBound(UInt(len))
        var out = [UInt8](repeating: 0, count: Int(bound))
        let status = buf.withUnsafeBufferPointer { src in
            out.withUnsafeMutableBufferPointer { compress2($0.baseAddress, &bound, src.baseAddress, UInt(len), 1) }
        }
        return status == Z_OK && Double(bound) < worthIt * Double(len)
    }

    static func readFull(_ fd: Int32, _ buf: inout [UInt8], path: String) throws -> Int {
        var total = 0
        while total < buf.count {
            let r = buf.withUnsafeMutableBytes { read(fd, $0.baseAddress! + total, $0.count - total) }
            if r < 0 {
                if errno == EINTR { continue }
                throw ShipitError("cannot read \(path) to compress it")
            }
            if r == 0 { break }
            total += r
        }
        return total
    }
}
