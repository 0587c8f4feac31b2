import CLibSSH2
import FoundationEssentials

/// Host key verification against an OpenSSH known_hosts file. A changed key is always refused; an unknown
/// host is refused unless the policy is accept-new, in which case its key is appended.
enum KnownHosts {
    struct HostKey {
        let blob: Data
        let libssh2Type: Int32

        /// The LIBSSH2_KNOWNHOST_KEY_* bits matching the server's key type; wrappers that only know
        /// RSA/DSS mis-check ed25519 hosts.
        var knownHostKeyBits: Int32? {
            switch libssh2Type {
            case LIBSSH2_HOSTKEY_TYPE_RSA: return LIBSSH2_KNOWNHOST_KEY_SSHRSA
            case LIBSSH2_HOSTKEY_TYPE_DSS: return LIBSSH2_KNOWNHOST_KEY_SSHDSS
            case LIBSSH2_HOSTKEY_TYPE_ECDSA_256: return LIBSSH2_KNOWNHOST_KEY_ECDSA_256
            case LIBSSH2_HOSTKEY_TYPE_ECDSA_384: return LIBSSH2_KNOWNHOST_KEY_ECDSA_384
            case LIBSSH2_HOSTKEY_TYPE_ECDSA_521: return LIBSSH2_KNOWNHOST_KEY_ECDSA_521
            case LIBSSH2_HOSTKEY_TYPE_ED25519: return LIBSSH2_KNOWNHOST_KEY_ED25519
            default: return nil
            }
        }

        var typeName: String {
            switch libssh2Type {
            case LIBSSH2_HOSTKEY_TYPE_RSA: return "ssh-rsa"
            case LIBSSH2_HOSTKEY_TYPE_DSS: return "ssh-dss"
            case LIBSSH2_HOSTKEY_TYPE_ECDSA_256: return "ecdsa-sha2-nistp256"
            case LIBSSH2_HOSTKEY_TYPE_ECDSA_384: return "ecdsa-sha2-nistp384"
            case LIBSSH2_HOSTKEY_TYPE_ECDSA_521: return "ecdsa-sha2-nistp521"
            case LIBSSH2_HOSTKEY_TYPE_ED25519: return "ssh-ed25519"
            default: return "unknown"
            }
        }
    }

    static func hostKey(of connection: Connection) throws -> HostKey {
        var len = 0
        var type: Int32 = 0
        guard let ptr = libssh2_session_hostkey(connection.session, &len, &type), len > 0 else {
            throw connection.error(.hostKeyCheck, "read host key")
        }
        return HostKey(blob: Data(bytes: ptr, count: len), libssh2Type: type)
    }

    /// `SHA256:<unpadded base64>`, the form `ssh-keygen -lf` and OpenSSH's prompts print.
    static func fingerprint(of connection: Connection) -> String {
        guard let raw = libssh2_hostkey_hash(connection.session, LIBSSH2_HOSTKEY_HASH_SHA256) else { return "SHA256:?" }
        let digest = Data(bytes: raw, count: 32)
        return "SHA256:" + digest.base64EncodedString().replacing("=", with: "")
    }

    static func verify(connection: Connection, path: String, policy: SSHOptions.HostKeyPolicy) throws {
        let key = try hostKey(of: connection)
        guard let keyBits = key.knownHostKeyBits else {
            throw connection.error(.hostKeyCheck, "verify host key", "unsupported host key type \(key.libssh2Type)")
        }
        guard let store = libssh2_knownhost_init(connection.session) else {
            throw connection.error(.hostKeyCheck, "verify host key")
        }
        defer { libssh2_knownhost_free(store) }
        if FileManager.default.fileExists(atPath: path) {
            if libssh2_knownhost_readfile(store, path, LIBSSH2_KNOWNHOST_FILE_OPENSSH) < 0 {
                throw connection.error(.hostKeyCheck, "read known_hosts \(path)")
            }
        }
        let typeMask = LIBSSH2_KNOWNHOST_TYPE_PLAIN | LIBSSH2_KNOWNHOST_KEYENC_RAW | keyBits
        var entry: UnsafeMutablePointer<libssh2_knownhost>?
        let result = key.blob.withUnsafeBytes { buf in
            libssh2_knownhost_checkp(store, connection.target.host, Int32(connection.target.port),
                                     buf.baseAddress?.assumingMemoryBound(to: CChar.self), buf.count, typeMask, &entry)
        }
        let fp = fingerprint(of: connection)
        switch result {
        case LIBSSH2_KNOWNHOST_CHECK_MATCH:
            return
        case LIBSSH2_KNOWNHOST_CHECK_MISMATCH:
            throw SSHError(kind: .hostKeyMismatch, host: connection.host, operation: "verify host key",
                           message: "HOST KEY CHANGED: the server's \(key.typeName) key \(fp) does not match \(path); refusing to connect (possible man-in-the-middle, or the host was rebuilt: remove the old entry on purpose)")
        case LIBSSH2_KNOWNHOST_CHECK_NOTFOUND:
            guard policy == .acceptNew else {
                throw SSHError(kind: .hostKeyUnknown, host: connection.host, operation: "verify host key",
                               message: "unknown host: \(connection.target.knownHostsName) is not in \(path) (its \(key.typeName) key is \(fp)); add it with ssh-keyscan after checking the fingerprint, or allow accept-new")
            }
            try append(line: "\(connection.target.knownHostsName) \(key.typeName) \(key.blob.base64EncodedString())\n", to: path, host: connection.host)
        default:
            throw connection.error(.hostKeyCheck, "verify host key")
        }
    }

    private static func append(line: String, to path: String, host: String) throws {
        let dir = FilePath.directory(of: path)
        if !dir.isEmpty, !FileManager.default.fileExists(atPath: dir) {
            try? FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        }
        do { try FilePath.append(line, to: path) } catch {
            throw SSHError(kind: .hostKeyCheck, host: host, operation: "record host key", message: "cannot write \(path): \(error)")
        }
    }
}
