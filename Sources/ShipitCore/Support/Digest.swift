import Crypto
import FoundationEssentials
import Glibc

/// sha256 on the deployer, in process (swift-crypto): the config hash is taken on every load and
/// every flag override, the proxy config's on every host's pre-flight; a `sha256sum` process each
/// time cost a run ~10 ms apiece.
public enum Digest {
    /// Streams the file through the hash in 1 MiB reads (an artifact may be large).
    public static func sha256Hex(file: String) throws -> String {
        let fd = open(file, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw ShipitError("cannot read \(file) to hash it") }
        defer { close(fd) }
        var hasher = SHA256()
        var chunk = [UInt8](repeating: 0, count: 1 << 20)
        while true {
            let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n < 0 {
                if errno == EINTR { continue }
                throw ShipitError("cannot read \(file) to hash it")
            }
            if n == 0 { break }
            chunk.withUnsafeBytes { hasher.update(bufferPointer: UnsafeRawBufferPointer(rebasing: $0[..<n])) }
        }
        return hex(hasher.finalize())
    }

    public static func sha256Hex(_ data: Data) throws -> String {
        hex(SHA256.hash(data: data))
    }

    /// Lowercase hex, two digits a byte (a digest, a MAC, a key).
    static func hex(_ bytes: some Sequence<UInt8>) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var out = [UInt8]()
        out.reserveCapacity(bytes.underestimatedCount * 2)
        for b in bytes {
            out.append(digits[Int(b >> 4)])
            out.append(digits[Int(b & 0x0f)])
        }
        return String(decoding: out, as: UTF8.self)
    }
}
