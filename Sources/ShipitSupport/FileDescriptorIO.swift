import Glibc

/// Whole writes and reads on a file descriptor, retried on EINTR and short counts.
public enum FileDescriptorIO {
    public static func write(_ fd: Int32, _ bytes: some Collection<UInt8>) throws {
        let bytes = Array(bytes)
        var done = 0
        while done < bytes.count {
            let n = bytes[done...].withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
            if n < 0 {
                if errno == EINTR { continue }
                throw POSIXFailure(operation: "write")
            }
            done += n
        }
    }

    public static func write(_ fd: Int32, _ text: String) throws { try write(fd, text.utf8) }

    /// Reads until end of file, keeping the last `keepTail` bytes (and the count of the others).
    public static func readAll(_ fd: Int32, keepTail: Int = .max) throws -> TailBuffer {
        var tail = TailBuffer(limit: keepTail)
        var chunk = [UInt8](repeating: 0, count: 64 * 1024)
        while true {
            let n = chunk.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
            if n < 0 {
                if errno == EINTR { continue }
                throw POSIXFailure(operation: "read")
            }
            if n == 0 { return tail }
            chunk.withUnsafeBytes { tail.append(UnsafeRawBufferPointer(rebasing: $0[..<n])) }
        }
    }
}
