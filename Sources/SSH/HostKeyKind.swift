import CLibSSH2

/// A host key algorithm family as known_hosts records it and as the handshake negotiates it. The
/// cases are in the order OpenSSH's client prefers them, so a host seen for the first time is recorded
/// with the key `ssh` would record (ed25519 on a stock sshd).
enum HostKeyKind: CaseIterable, Equatable {
    case ed25519, ecdsa256, ecdsa384, ecdsa521, rsa, dss

    init?(libssh2HostKeyType type: Int32) {
        switch type {
        case LIBSSH2_HOSTKEY_TYPE_ED25519: self = .ed25519
        case LIBSSH2_HOSTKEY_TYPE_ECDSA_256: self = .ecdsa256
        case LIBSSH2_HOSTKEY_TYPE_ECDSA_384: self = .ecdsa384
        case LIBSSH2_HOSTKEY_TYPE_ECDSA_521: self = .ecdsa521
        case LIBSSH2_HOSTKEY_TYPE_RSA: self = .rsa
        case LIBSSH2_HOSTKEY_TYPE_DSS: self = .dss
        default: return nil
        }
    }

    /// The LIBSSH2_KNOWNHOST_KEY_* bits of this type: a check without them compares every entry of
    /// the host, whatever its type.
    var knownHostKeyBits: Int32 {
        switch self {
        case .ed25519: return LIBSSH2_KNOWNHOST_KEY_ED25519
        case .ecdsa256: return LIBSSH2_KNOWNHOST_KEY_ECDSA_256
        case .ecdsa384: return LIBSSH2_KNOWNHOST_KEY_ECDSA_384
        case .ecdsa521: return LIBSSH2_KNOWNHOST_KEY_ECDSA_521
        case .rsa: return LIBSSH2_KNOWNHOST_KEY_SSHRSA
        case .dss: return LIBSSH2_KNOWNHOST_KEY_SSHDSS
        }
    }

    /// The name known_hosts and the key files use.
    var recordName: String {
        switch self {
        case .ed25519: return "ssh-ed25519"
        case .ecdsa256: return "ecdsa-sha2-nistp256"
        case .ecdsa384: return "ecdsa-sha2-nistp384"
        case .ecdsa521: return "ecdsa-sha2-nistp521"
        case .rsa: return "ssh-rsa"
        case .dss: return "ssh-dss"
        }
    }

    /// The handshake's host key algorithms that prove a key of this type (an RSA key signs with
    /// SHA-2 where both sides can; OpenSSH servers no longer accept SHA-1 by default).
    var algorithms: [String] {
        switch self {
        case .rsa: return ["rsa-sha2-512", "rsa-sha2-256", "ssh-rsa"]
        default: return [recordName]
        }
    }

    /// The host key algorithm preference for a host whose known_hosts entries have the types
    /// `recorded`: those first, so the server proves the key the operator recorded (libssh2's own
    /// order asks for ECDSA first, and a host recorded by `ssh` with its ed25519 key looked unknown),
    /// then the others, so a host that no longer has a recorded type is still reached and reported
    /// as changed rather than failing the handshake with no word on the key.
    static func preference(recorded: [HostKeyKind]) -> String {
        let first = allCases.filter { recorded.contains($0) }
        let rest = allCases.filter { !recorded.contains($0) }
        return (first + rest).flatMap(\.algorithms).joined(separator: ",")
    }

    /// Whether this libssh2 can check an RSA host key signed with SHA-2 (libssh2 1.10 cannot, and
    /// OpenSSH servers since 8.8 offer nothing else for RSA).
    static func rsaSHA2Supported(session: OpaquePointer) -> Bool {
        var algs: UnsafeMutablePointer<UnsafePointer<CChar>?>?
        let n = libssh2_session_supported_algs(session, LIBSSH2_METHOD_HOSTKEY, &algs)
        guard n > 0, let algs else { return false }
        defer { libssh2_free(session, algs) }
        return (0..<Int(n)).contains { i in algs[i].map { String(cString: $0) == "rsa-sha2-256" } ?? false }
    }
}
