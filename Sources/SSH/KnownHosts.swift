import CLibSSH2
import FoundationEssentials
import ShipitSupport

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Host key verification against an OpenSSH known_hosts file, as `ssh` writes it (hashed names,
/// one recorded key type per host). The file is read before the handshake, so the session asks the
/// server first for a key of a type recorded for the host; after the handshake the key the server
/// proved is checked. A changed key is always refused, and so is a host whose recorded types the
/// server no longer offers; an unknown host is refused unless the policy is accept-new, in which
/// case its key is appended.
final class KnownHosts {
    struct HostKey {
        let blob: Data
        let libssh2Type: Int32

        var kind: HostKeyKind? { HostKeyKind(libssh2HostKeyType: libssh2Type) }
        var typeName: String { kind?.recordName ?? "unknown" }
    }

    let path: String
    /// Held so the session, whose allocator the store uses, outlives the store.
    private let connection: Connection
    private let store: OpaquePointer
    /// Keys marked `@revoked` (base64): refused for every host, as OpenSSH does.
    private var revoked: Set<String> = []

    /// Reads `path` (a missing file is an empty one) into a store bound to the connection's session.
    init(connection: Connection, path: String) throws {
        guard let store = libssh2_knownhost_init(connection.session) else {
            throw connection.error(.hostKeyCheck, "read known_hosts \(path)")
        }
        self.connection = connection
        self.store = store
        self.path = path
        if let data = FileManager.default.contents(atPath: path) {
            load(String(decoding: data, as: UTF8.self))
        } else if FileManager.default.fileExists(atPath: path) {
            // Only a missing file is an empty one: an unreadable one read as empty would make every
            // host unknown, and accept-new would take whatever key is offered.
            throw SSHError(
                kind: .hostKeyCheck, host: connection.host, operation: "read known_hosts \(path)",
                message: "cannot read it (permissions? a directory?)")
        }
    }

    deinit { libssh2_knownhost_free(store) }

    /// Line by line, so one line libssh2 cannot parse (a key type it does not know, a
    /// `@cert-authority` line) is skipped as OpenSSH skips it, instead of failing the whole file.
    private func load(_ text: String) {
        for raw in text.split(whereSeparator: { $0 == "\n" || $0 == "\r" }) {
            let line = String(raw).trimmed()
            if line.isEmpty || line.hasPrefix("#") { continue }
            if line.hasPrefix("@") {
                // `@revoked HOSTS TYPE KEY`: the key is refused; `@cert-authority` (host certificates)
                // is not something libssh2 can check, so such a line grants nothing.
                let fields = line.split(whereSeparator: { $0 == " " || $0 == "\t" })
                if fields.first == "@revoked", fields.count >= 4 { revoked.insert(String(fields[3])) }
                continue
            }
            // NUL-terminated: libssh2's parser looks at the byte after the line.
            _ = line.withCString { libssh2_knownhost_readline(store, $0, strlen($0), LIBSSH2_KNOWNHOST_FILE_OPENSSH) }
        }
    }

    /// The key types recorded for `target`, in OpenSSH's order of preference. libssh2 compares only
    /// entries of the type a check names, and reports a mismatch for an entry of that type whose key
    /// differs: so a check with a key that cannot be anyone's tells whether a type is recorded.
    func recordedKinds(for target: SSHTarget) -> [HostKeyKind] {
        HostKeyKind.allCases.filter {
            check(target, blob: Data([0]), keyBits: $0.knownHostKeyBits) == LIBSSH2_KNOWNHOST_CHECK_MISMATCH
        }
    }

    private func check(_ target: SSHTarget, blob: Data, keyBits: Int32) -> Int32 {
        let typeMask = LIBSSH2_KNOWNHOST_TYPE_PLAIN | LIBSSH2_KNOWNHOST_KEYENC_RAW | keyBits
        var entry: UnsafeMutablePointer<libssh2_knownhost>?
        return blob.withUnsafeBytes { buf in
            libssh2_knownhost_checkp(
                store, target.host, Int32(target.port),
                buf.baseAddress?.assumingMemoryBound(to: CChar.self), buf.count, typeMask, &entry)
        }
    }

    /// Steers the handshake towards the recorded key types (see `HostKeyKind.preference`).
    func preferRecordedKinds() {
        _ = libssh2_session_method_pref(
            connection.session, LIBSSH2_METHOD_HOSTKEY,
            HostKeyKind.preference(recorded: recordedKinds(for: connection.target)))
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

    func verify(policy: SSHOptions.HostKeyPolicy) throws {
        let key = try Self.hostKey(of: connection)
        guard let kind = key.kind else {
            throw connection.error(.hostKeyCheck, "verify host key", "unsupported host key type \(key.libssh2Type)")
        }
        let fp = Self.fingerprint(of: connection)
        let target = connection.target
        if revoked.contains(key.blob.base64EncodedString()) {
            throw SSHError(
                kind: .hostKeyMismatch, host: connection.host, operation: "verify host key",
                message:
                    "REVOKED HOST KEY: the server's \(kind.recordName) key \(fp) is marked @revoked in \(path); refusing to connect"
            )
        }
        switch check(target, blob: key.blob, keyBits: kind.knownHostKeyBits) {
        case LIBSSH2_KNOWNHOST_CHECK_MATCH:
            return
        case LIBSSH2_KNOWNHOST_CHECK_MISMATCH:
            throw SSHError(
                kind: .hostKeyMismatch, host: connection.host, operation: "verify host key",
                message:
                    "HOST KEY CHANGED: the server's \(kind.recordName) key \(fp) does not match \(path); refusing to connect (possible man-in-the-middle, or the host was rebuilt: remove the old entry on purpose)"
            )
        case LIBSSH2_KNOWNHOST_CHECK_NOTFOUND:
            // A host recorded with keys of other types that proves none of them is a changed host,
            // not a new one: accept-new must not add a second identity beside the recorded one.
            let recorded = recordedKinds(for: target)
            if !recorded.isEmpty {
                var message =
                    "HOST KEY CHANGED: \(path) records a \(recorded.map(\.recordName).joined(separator: "/")) key for \(target.knownHostsName), but the server offered no key of that type, only its \(kind.recordName) key \(fp); refusing to connect (possible man-in-the-middle, or the host was rebuilt: remove the old entry on purpose)"
                if recorded == [.rsa], !HostKeyKind.rsaSHA2Supported(session: connection.session) {
                    message +=
                        ". Note: this libssh2 verifies RSA host keys only with SHA-1 signatures (ssh-rsa), which OpenSSH 8.8 and later no longer offer; record the host's ed25519 key instead (ssh-keyscan -t ed25519 \(target.host), after checking its fingerprint)"
                }
                throw SSHError(
                    kind: .hostKeyMismatch, host: connection.host, operation: "verify host key", message: message)
            }
            guard policy == .acceptNew else {
                throw SSHError(
                    kind: .hostKeyUnknown, host: connection.host, operation: "verify host key",
                    message:
                        "unknown host: \(target.knownHostsName) is not in \(path) (its \(kind.recordName) key is \(fp)); add it with ssh-keyscan after checking the fingerprint, or allow accept-new"
                )
            }
            try Self.append(
                line: "\(target.knownHostsName) \(kind.recordName) \(key.blob.base64EncodedString())\n", to: path,
                host: connection.host)
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
            throw SSHError(
                kind: .hostKeyCheck, host: host, operation: "record host key", message: "cannot write \(path): \(error)"
            )
        }
    }
}
