import FoundationEssentials

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// What an exec channel's stdin is fed from, a window at a time: the bytes not yet written
/// (`pending`), advanced by what the channel took (`consumed`).
protocol ExecInput: AnyObject {
    /// The next bytes to write, or nil when none are ready (or all were written: `finished`).
    func pending(host: String) throws -> UnsafeRawBufferPointer?
    func consumed(_ n: Int)
    var finished: Bool { get }
}

/// A small input held in memory (a script's stdin), copied once into storage of our own so the
/// pointers handed out stay valid (a small `Data` may live inline, with no stable address).
final class DataInput: ExecInput {
    private let bytes: UnsafeMutableRawBufferPointer
    private var offset = 0

    init(_ data: Data) {
        bytes = .allocate(byteCount: max(data.count, 1), alignment: 8)
        data.copyBytes(to: bytes.bindMemory(to: UInt8.self), count: data.count)
        count = data.count
    }

    private let count: Int

    deinit { bytes.deallocate() }

    func pending(host: String) throws -> UnsafeRawBufferPointer? {
        offset < count ? UnsafeRawBufferPointer(rebasing: bytes[offset..<count]) : nil
    }

    func consumed(_ n: Int) { offset += n }
    var finished: Bool { offset >= count }
}

/// A local file streamed through a fixed buffer: a large artifact never sits in memory whole.
final class FileInput: ExecInput {
    private let fd: Int32
    private let path: String
    private let buffer: UnsafeMutableRawBufferPointer
    private var start = 0, end = 0
    private var eof = false
    private(set) var bytesSent: Int64 = 0

    init(path: String, host: String) throws {
        fd = Glibc.open(path, O_RDONLY)
        guard fd >= 0 else {
            throw SSHError(
                kind: .transfer, host: host, operation: "stream \(path)",
                message: "cannot open local file: \(String(cString: strerror(errno)))")
        }
        self.path = path
        buffer = .allocate(byteCount: 1024 * 1024, alignment: 8)
    }

    deinit {
        close(fd)
        buffer.deallocate()
    }

    func pending(host: String) throws -> UnsafeRawBufferPointer? {
        if start == end && !eof {
            let n = read(fd, buffer.baseAddress, buffer.count)
            if n < 0 {
                throw SSHError(
                    kind: .transfer, host: host, operation: "stream \(path)",
                    message: "cannot read local file: \(String(cString: strerror(errno)))")
            }
            if n == 0 {
                eof = true
            } else {
                start = 0
                end = n
            }
        }
        return start < end ? UnsafeRawBufferPointer(rebasing: buffer[start..<end]) : nil
    }

    func consumed(_ n: Int) {
        start += n
        bytesSent += Int64(n)
    }

    var finished: Bool { eof && start == end }
}

/// No bytes, held open until `stop()` says so: the far end reads EOF then (`shipit logs
/// --follow` ends its remote reader that way).
final class HeldInput: ExecInput {
    private let stop: @Sendable () -> Bool
    init(until stop: @escaping @Sendable () -> Bool) { self.stop = stop }
    func pending(host: String) throws -> UnsafeRawBufferPointer? { nil }
    func consumed(_ n: Int) {}
    var finished: Bool { stop() }
}
