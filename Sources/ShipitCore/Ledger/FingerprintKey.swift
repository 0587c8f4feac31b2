import Crypto
import FoundationEssentials
import ShipitSupport

#if canImport(Glibc)
    import Glibc
#endif

/// The random key a ledger keys secrets' fingerprints with (`ReleaseEnvironment.fingerprints`):
/// 32 bytes, written as 64 hex digits.
enum FingerprintKey {
    static func newHex() -> String {
        SymmetricKey(size: .bits256).withUnsafeBytes { Digest.hex($0) }
    }

    static func bytes(hex: String) -> Data? {
        let chars = Array(hex.utf8)
        guard chars.count == 64 else { return nil }
        var out = Data()
        for i in stride(from: 0, to: 64, by: 2) {
            guard let b = UInt8(String(decoding: chars[i..<(i + 2)], as: UTF8.self), radix: 16) else { return nil }
            out.append(b)
        }
        return out
    }

    /// The key in `path`, made (exclusively, 0600) when there is none: two runs that start at once
    /// both end up with the one that was written first.
    static func file(_ path: String) throws -> Data {
        let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        if fd >= 0 {
            let text = newHex() + "\n"
            let ok = text.utf8CString.withUnsafeBufferPointer {
                write(fd, $0.baseAddress, text.utf8.count) == text.utf8.count
            }
            close(fd)
            guard ok else {
                unlink(path)
                throw ShipitError("cannot write the fingerprint key \(path)")
            }
        } else if errno != EEXIST {
            throw ShipitError("cannot create the fingerprint key \(path): \(POSIXFailure(operation: "open"))")
        }
        // Readable by its owner only, like the ledger (an older copy restored by CI may be wider).
        chmod(path, 0o600)
        guard access(path, R_OK) == 0 else {
            throw ShipitError("cannot read the fingerprint key \(path): \(POSIXFailure(operation: "access"))")
        }
        // A key being written by another run right now: a moment later it is whole.
        for _ in 0..<50 {
            if let text = try? String(contentsOfFile: path, encoding: .utf8),
                let key = bytes(hex: text.trimmed())
            {
                return key
            }
            usleep(20_000)
        }
        throw ShipitError(
            "the fingerprint key \(path) is not 64 hex digits: remove it (fingerprints recorded with it will all show as changed once)"
        )
    }
}
