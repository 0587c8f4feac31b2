import FoundationEssentials
import SSH

/// The connection flags every command accepts (`--user`, `--port`, `--identity`, `--known-hosts`,
/// `--accept-new-host-keys`, `--connect-timeout`, `--parallel`, `--ssh-config`, `--proxy-jump`).
/// They win over shipit.yml and ssh_config. Each flag is listed once, in `entries`: what it sets and
/// the config key it records, so the settings and the ledger's config hash cannot disagree.
public struct ConnectionOverrides: Sendable {
    public var user: String?
    public var port: Int?
    public var identities: [String] = []
    public var knownHosts: String?
    public var acceptNewHostKeys = false
    public var connectTimeout: Double?
    public var parallel: Int?
    public var sshConfig: String?
    public var proxyJump: String?

    public init(
        user: String? = nil, port: Int? = nil, identities: [String] = [], knownHosts: String? = nil,
        acceptNewHostKeys: Bool = false, connectTimeout: Double? = nil, parallel: Int? = nil,
        sshConfig: String? = nil, proxyJump: String? = nil
    ) {
        self.user = user
        self.port = port
        self.identities = identities
        self.knownHosts = knownHosts
        self.acceptNewHostKeys = acceptNewHostKeys
        self.connectTimeout = connectTimeout
        self.parallel = parallel
        self.sshConfig = sshConfig
        self.proxyJump = proxyJump
    }

    /// One flag that was given: the config key and value it records, and what it changes.
    private struct Entry {
        let key: String
        let value: String
        let set: (inout ConnectionSettings) -> Void
    }

    private var entries: [Entry] {
        var e: [Entry] = []
        if let user { e.append(Entry(key: "ssh.user", value: user) { $0.user = user }) }
        if let port { e.append(Entry(key: "ssh.port", value: String(port)) { $0.port = port }) }
        if !identities.isEmpty {
            let ids = identities
            e.append(Entry(key: "ssh.identity", value: ids.joined(separator: ", ")) { $0.identities = ids })
        }
        if let knownHosts {
            e.append(Entry(key: "ssh.known_hosts", value: knownHosts) { $0.knownHostsPath = knownHosts })
        }
        if acceptNewHostKeys {
            e.append(Entry(key: "ssh.accept_new_host_keys", value: "true") { $0.hostKeyPolicy = .acceptNew })
        }
        if let connectTimeout {
            e.append(
                Entry(key: "ssh.connect_timeout", value: String(connectTimeout)) { $0.connectTimeout = connectTimeout })
        }
        if let parallel { e.append(Entry(key: "parallel", value: String(parallel)) { $0.parallel = parallel }) }
        if let sshConfig {
            let path = sshConfig == "none" ? "none" : URL(fileURLWithPath: sshConfig).standardizedFileURL.path
            e.append(Entry(key: "ssh.config", value: sshConfig) { $0.sshConfigPath = path })
        }
        if let proxyJump {
            let hops = proxyJump.split(separator: ",").map { $0.trimmed() }
            e.append(Entry(key: "ssh.proxy_jump", value: proxyJump) { $0.proxyJump = hops == ["none"] ? [] : hops })
        }
        return e
    }

    /// The numbers among the flags, in the config's ranges (`ssh.port`, `ssh.connect_timeout`,
    /// `parallel`): checked before the config is read or any host is touched.
    public func checkRanges() throws {
        try FlagRange.check(port, flag: "--port", 1...65535)
        try FlagRange.check(connectTimeout, flag: "--connect-timeout", 0.1...600)
        try FlagRange.check(parallel, flag: "--parallel", 1...1000)
    }

    /// The flags given, as config keys (so the ledger's config hash covers them).
    public var settings: [(String, String)] { entries.map { ($0.key, $0.value) } }

    /// `base` with the flags applied; ssh_config is (re)read for `--ssh-config`, or read when `base`
    /// has not read one, and each `--proxy-jump` hop is checked.
    public func apply(to base: ConnectionSettings) throws -> ConnectionSettings {
        try checkRanges()
        var s = base
        for entry in entries { entry.set(&s) }
        if sshConfig != nil || (base.sshConfig == nil && base.sshConfigPath == nil) { try s.loadSSHConfig() }
        if proxyJump != nil {
            for hop in s.proxyJump ?? [] {
                _ = try s.jumpHop(hop, defaultUser: s.user, fallback: s.sshOptions, field: "--proxy-jump")
            }
        }
        return s
    }
}

extension DeployConfig {
    /// The flags applied to the connection and recorded in the settings, so the hash covers what
    /// really ran.
    public mutating func apply(_ overrides: ConnectionOverrides) throws {
        connection = try overrides.apply(to: connection)
        for (key, value) in overrides.settings { override(key, value) }
    }
}
