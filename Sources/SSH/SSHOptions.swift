/// How a session authenticates and verifies the server.
public struct SSHOptions: Sendable {
    public enum Authentication: Sendable, Equatable {
        /// A private key file (OpenSSH or PEM format; ed25519, ecdsa or RSA), optionally with a passphrase.
        case privateKey(path: String, passphrase: String? = nil)
        /// Every identity held by an ssh-agent: the one at `socketPath`, else the one behind `SSH_AUTH_SOCK`.
        case agent(socketPath: String? = nil)
    }

    public enum HostKeyPolicy: String, Sendable {
        /// Unknown hosts are refused (the default): the operator adds them on purpose.
        case strict
        /// Unknown hosts are accepted and appended to known_hosts; a *changed* key is still refused.
        case acceptNew = "accept-new"
    }

    public var authentication: [Authentication]
    public var knownHostsPath: String
    public var hostKeyPolicy: HostKeyPolicy
    /// Bounds TCP connect plus SSH handshake plus authentication.
    public var connectTimeout: Double
    /// Seconds between keepalives while waiting on the server; 0 disables them.
    public var keepaliveInterval: Int

    public init(
        authentication: [Authentication],
        knownHostsPath: String,
        hostKeyPolicy: HostKeyPolicy = .strict,
        connectTimeout: Double = 10,
        keepaliveInterval: Int = 15
    ) {
        self.authentication = authentication
        self.knownHostsPath = knownHostsPath
        self.hostKeyPolicy = hostKeyPolicy
        self.connectTimeout = connectTimeout
        self.keepaliveInterval = keepaliveInterval
    }
}
