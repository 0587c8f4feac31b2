import FoundationEssentials
import SSH

/// How shipit reaches hosts: user, port, identities, known_hosts, timeouts. Built from the config and
/// overridden by `--user`, `--identity`, `--known-hosts`, exactly the same way in every command.
public struct ConnectionSettings: Sendable {
    /// Settings given in shipit.yml or as flags: these win over ssh_config, which wins over the
    /// defaults.
    public enum Field: Sendable { case user, port, identities, knownHosts, hostKeyPolicy, connectTimeout }
    public private(set) var explicit: Set<Field> = []

    public var user: String { didSet { explicit.insert(.user) } }
    public var port: Int { didSet { explicit.insert(.port) } }
    /// Key files to try, in order; empty means "the usual ones": ~/.ssh/id_ed25519, id_ecdsa, id_rsa.
    public var identities: [String] { didSet { explicit.insert(.identities) } }
    public var useAgent: Bool
    public var knownHostsPath: String { didSet { explicit.insert(.knownHosts) } }
    public var hostKeyPolicy: SSHOptions.HostKeyPolicy { didSet { explicit.insert(.hostKeyPolicy) } }
    public var connectTimeout: Double { didSet { explicit.insert(.connectTimeout) } }
    /// The OpenSSH client config read for host aliases, users, ports, keys and jump hosts
    /// (`~/.ssh/config` unless `ssh.config` names another file or `none`).
    public var sshConfig: SSHConfig?
    public var sshConfigPath: String?
    /// `ssh.proxy_jump` / `--proxy-jump`: `[user@]host[:port]` hops in order (nil: from
    /// ssh_config; empty: none).
    public var proxyJump: [String]?
    /// At most this many SSH handshakes in flight (sshd's MaxStartups drops connections beyond
    /// its own limit; SSHKit's max_concurrent_starts default is 30).
    public var maxConcurrentStarts = 30
    public var commandTimeout: Double
    /// Hosts worked on at once.
    public var parallel: Int
    /// How files reach a host: streamed on the stdin of the command that consumes them (one
    /// channel, no SFTP needed), or SFTP/SCP first and the command after; `auto` picks per size.
    public var upload: UploadMode = .auto
    /// Whether a big release goes as a delta to a host that keeps earlier releases (only the files
    /// it lacks travel); false sends every host the whole artifact.
    public var delta = true

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
        self.user = user ?? LocalAccount.user()
        // Given here, as in a test's settings: explicit, like shipit.yml.
        if user != nil { explicit.insert(.user) }
        if !identities.isEmpty { explicit.insert(.identities) }
        if knownHostsPath != nil { explicit.insert(.knownHosts) }
        self.port = port
        self.identities = identities
        self.useAgent = useAgent
        self.knownHostsPath = knownHostsPath ?? (Self.home + "/.ssh/known_hosts")
        self.hostKeyPolicy = hostKeyPolicy
        self.connectTimeout = connectTimeout
        self.commandTimeout = commandTimeout
        self.parallel = parallel
    }

    static var home: String { LocalAccount.home }

    /// A login name that cannot be an option or carry shell syntax.
    static func isValidUser(_ user: String) -> Bool {
        !user.isEmpty && user.allSatisfy({ $0.isLetter || $0.isNumber || "._-".contains($0) }) && !user.hasPrefix("-")
    }

    public func validate() throws {
        guard Self.isValidUser(user) else {
            throw ShipitError.input("ssh.user: \(HostName.debugQuoted(user)) is not a valid user name")
        }
        guard (1...65535).contains(port) else {
            throw ShipitError.input("ssh.port: \(port) is not a TCP port (1-65535)")
        }
        for id in identities where !FileManager.default.isReadableFile(atPath: id) {
            throw ShipitError.input("ssh.identity: cannot read key file \(id)")
        }
        guard connectTimeout > 0 else { throw ShipitError.input("ssh.connect_timeout: must be greater than 0") }
        guard commandTimeout > 0 else { throw ShipitError.input("ssh.command_timeout: must be greater than 0") }
        guard parallel >= 1 else { throw ShipitError.input("parallel: must be at least 1") }
    }

    public var sshOptions: SSHOptions {
        var auth: [SSHOptions.Authentication] = []
        let keys =
            identities.isEmpty
            ? ["id_ed25519", "id_ecdsa", "id_rsa"].map { Self.home + "/.ssh/" + $0 }.filter {
                FileManager.default.fileExists(atPath: $0)
            }
            : identities
        auth += keys.map {
            .privateKey(path: $0, passphrase: ProcessInfo.processInfo.environment["SHIPIT_KEY_PASSPHRASE"])
        }
        if useAgent { auth.append(.agent()) }
        return SSHOptions(
            authentication: auth, knownHostsPath: knownHostsPath, hostKeyPolicy: hostKeyPolicy,
            connectTimeout: connectTimeout)
    }

    public func target(_ host: String) -> SSHTarget { SSHTarget(host: host, port: port, user: user) }

    /// The address ssh_config gives `host` (`HostName`), else `host` itself.
    public func address(of host: String) -> String {
        // Checked by `checkHostNames` before any use; here only brought to its bare form.
        sshConfig?.resolve(host, localUser: Self.localUser).hostName.map {
            (try? HostName.normalized($0, field: "HostName")) ?? $0
        } ?? host
    }

    /// Reads `sshConfigPath` (`none`: no file; nil: `~/.ssh/config` when it exists, as OpenSSH
    /// and net-ssh do). A file that does not parse is refused, naming the file and line.
    public mutating func loadSSHConfig() throws {
        let path = sshConfigPath ?? (Self.home + "/.ssh/config")
        guard path != "none" else {
            sshConfig = nil
            return
        }
        if sshConfigPath == nil && !FileManager.default.fileExists(atPath: path) {
            sshConfig = nil
            return
        }
        do { sshConfig = try SSHConfig.load(path: path, home: Self.home) } catch let e as SSHConfig.ParseError {
            throw ShipitError.input("ssh.config: \(e.line == 0 ? "\(e.file): \(e.message)" : e.description)")
        }
    }
}
