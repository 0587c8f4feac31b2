import Foundation
import SSH

/// How shipit reaches hosts: user, port, identities, known_hosts, timeouts. Built from the config and
/// overridden by `--user`, `--identity`, `--known-hosts`, exactly the same way in every command.
public struct ConnectionSettings: Sendable {
    public var user: String
    public var port: Int
    /// Key files to try, in order; empty means "the usual ones": ~/.ssh/id_ed25519, id_ecdsa, id_rsa.
    public var identities: [String]
    public var useAgent: Bool
    public var knownHostsPath: String
    public var hostKeyPolicy: SSHOptions.HostKeyPolicy
    public var connectTimeout: Double
    public var commandTimeout: Double
    /// Hosts worked on at once.
    public var parallel: Int
    /// How files reach a host: streamed on the stdin of the command that consumes them (one
    /// channel, no SFTP needed), or SFTP/SCP first and the command after; `auto` picks per size.
    public var upload: UploadMode = .auto

    public enum UploadMode: String, Sendable, CaseIterable {
        case auto, stream, sftp, scp

        /// `auto` streams files up to this size, and uses SFTP above it where the host offers it:
        /// measured on loopback (docs/performance.md), streaming saves the SFTP set-up and a
        /// second channel, which wins for small files, and SFTP moves bytes faster when the CPU
        /// (not a network link) is the limit.
        public static let autoStreamLimit: Int64 = 2 << 20

        /// Whether files of `bytes` in total go on the command's stdin.
        public func streams(bytes: Int64) -> Bool {
            switch self {
            case .stream: return true
            case .auto: return bytes <= Self.autoStreamLimit
            case .sftp, .scp: return false
            }
        }
    }

    public init(
        user: String? = nil, port: Int = 22, identities: [String] = [], useAgent: Bool = true,
        knownHostsPath: String? = nil, hostKeyPolicy: SSHOptions.HostKeyPolicy = .strict,
        connectTimeout: Double = 10, commandTimeout: Double = 600, parallel: Int = 50
    ) {
        let env = ProcessInfo.processInfo.environment
        self.user = user ?? env["USER"] ?? NSUserName()
        self.port = port
        self.identities = identities
        self.useAgent = useAgent
        self.knownHostsPath = knownHostsPath ?? (Self.home + "/.ssh/known_hosts")
        self.hostKeyPolicy = hostKeyPolicy
        self.connectTimeout = connectTimeout
        self.commandTimeout = commandTimeout
        self.parallel = parallel
    }

    static var home: String { ProcessInfo.processInfo.environment["HOME"] ?? NSHomeDirectory() }

    public func validate() throws {
        guard !user.isEmpty, user.allSatisfy({ $0.isLetter || $0.isNumber || "._-".contains($0) }), !user.hasPrefix("-") else {
            throw ShipitError.input("ssh.user: \(HostName.debugQuoted(user)) is not a valid user name")
        }
        guard (1...65535).contains(port) else { throw ShipitError.input("ssh.port: \(port) is not a TCP port (1-65535)") }
        for id in identities where !FileManager.default.isReadableFile(atPath: id) {
            throw ShipitError.input("ssh.identity: cannot read key file \(id)")
        }
        guard connectTimeout > 0 else { throw ShipitError.input("ssh.connect_timeout: must be greater than 0") }
        guard commandTimeout > 0 else { throw ShipitError.input("ssh.command_timeout: must be greater than 0") }
        guard parallel >= 1 else { throw ShipitError.input("parallel: must be at least 1") }
    }

    public var sshOptions: SSHOptions {
        var auth: [SSHOptions.Authentication] = []
        let keys = identities.isEmpty
            ? ["id_ed25519", "id_ecdsa", "id_rsa"].map { Self.home + "/.ssh/" + $0 }.filter { FileManager.default.fileExists(atPath: $0) }
            : identities
        auth += keys.map { .privateKey(path: $0, passphrase: ProcessInfo.processInfo.environment["SHIPIT_KEY_PASSPHRASE"]) }
        if useAgent { auth.append(.agent()) }
        return SSHOptions(authentication: auth, knownHostsPath: knownHostsPath, hostKeyPolicy: hostKeyPolicy,
                          connectTimeout: connectTimeout)
    }

    public func target(_ host: String) -> SSHTarget { SSHTarget(host: host, port: port, user: user) }
}
