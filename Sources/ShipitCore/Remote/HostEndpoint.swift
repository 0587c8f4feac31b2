import FoundationEssentials
import SSH

/// Where and how one host of the config is reached, once shipit.yml, the flags and ssh_config are
/// combined (in that order of precedence): the address and login, the options, and the jump
/// hosts in front of it, outermost first.
public struct HostEndpoint: Sendable {
    public struct Hop: Sendable {
        public var target: SSHTarget
        public var options: SSHOptions
        /// Identifies a chain prefix, so one bastion session serves every host behind it.
        public var key: String
    }

    public var target: SSHTarget
    public var options: SSHOptions
    public var jumps: [Hop]
}

extension ConnectionSettings {
    /// The endpoint of `host` (a name from `hosts:`, maybe an ssh_config alias).
    public func endpoint(for host: String) throws -> HostEndpoint {
        let cfg = sshConfig?.resolve(host, localUser: Self.localUser) ?? SSHConfig.Resolved()
        let address = try cfg.hostName.map { try Self.checkedHostName($0, alias: host) } ?? host
        let user = explicit.contains(.user) ? self.user : cfg.user ?? self.user
        let port = explicit.contains(.port) ? self.port : cfg.port ?? self.port
        let options = sshOptions(config: cfg)
        let specs = proxyJump ?? cfg.proxyJump
        var hops: [HostEndpoint.Hop] = []
        for spec in specs {
            let hop = try jumpHop(
                spec, defaultUser: user, fallback: options,
                field: proxyJump == nil ? "ProxyJump (ssh_config, host \(host))" : "ssh.proxy_jump")
            let key = (hops.last.map { $0.key + " > " } ?? "") + hop.target.description
            hops.append(HostEndpoint.Hop(target: hop.target, options: hop.options, key: key))
        }
        return HostEndpoint(target: SSHTarget(host: address, port: port, user: user), options: options, jumps: hops)
    }

    /// A jump host from `[user@]host[:port]`: its own ssh_config entry (address, user, port, keys,
    /// known_hosts) applies, the spec's user and port win; otherwise it logs in like the target.
    /// `[user@]host[:port]`, the host by `HostAddress`'s rule: `2001:db8::5` is an address
    /// without a port, `[2001:db8::5]:2222` one with.
    public func jumpHop(_ spec: String, defaultUser: String, fallback: SSHOptions, field: String) throws -> (
        target: SSHTarget, options: SSHOptions
    ) {
        var rest = spec.hasPrefix("ssh://") ? String(spec.dropFirst(6)) : spec
        var user: String?
        if let at = rest.lastIndex(of: "@") {
            user = String(rest[..<at])
            rest = String(rest[rest.index(after: at)...])
        }
        let address = try HostAddress.parse(rest, field: field, allowsPort: true)
        if let user, !Self.isValidUser(user) {
            throw ShipitError.input("\(field): \(HostName.debugQuoted(user)) is not a valid user name")
        }
        let cfg = sshConfig?.resolve(address.host, localUser: Self.localUser) ?? SSHConfig.Resolved()
        var options = cfg == SSHConfig.Resolved() ? fallback : sshOptions(config: cfg)
        if cfg.identityFiles.isEmpty { options.authentication = fallback.authentication }
        let host = try cfg.hostName.map { try Self.checkedHostName($0, alias: address.host) } ?? address.host
        let target = SSHTarget(host: host, port: address.port ?? cfg.port ?? 22, user: user ?? cfg.user ?? defaultUser)
        return (target, options)
    }

    /// ssh_config's `HostName` for `alias`, by the same rule as the config's hosts: it becomes the
    /// address shipit connects to, nginx binds and the health checks ask.
    static func checkedHostName(_ name: String, alias: String) throws -> String {
        try HostName.normalized(name, field: "HostName (ssh_config, host \(alias))")
    }

    /// Every host's ssh_config `HostName` checked, before any host is touched (ssh_config is
    /// read after the config, so its names are checked once it is).
    public func checkHostNames(_ hosts: [String]) throws {
        for h in hosts {
            if let name = sshConfig?.resolve(h, localUser: Self.localUser).hostName {
                _ = try Self.checkedHostName(name, alias: h)
            }
        }
    }

    /// The options for a host whose ssh_config says `cfg` (explicit settings win).
    func sshOptions(config cfg: SSHConfig.Resolved) -> SSHOptions {
        var s = self
        if !explicit.contains(.identities) {
            let files = cfg.identityFiles.filter { FileManager.default.fileExists(atPath: $0) }
            if !files.isEmpty { s.identities = files }
        }
        if !explicit.contains(.knownHosts), let file = cfg.userKnownHostsFiles.first { s.knownHostsPath = file }
        if !explicit.contains(.connectTimeout), let t = cfg.connectTimeout { s.connectTimeout = t }
        // `StrictHostKeyChecking no` is taken as accept-new: a changed key is still refused.
        if !explicit.contains(.hostKeyPolicy), let strict = cfg.strictHostKeyChecking,
            ["accept-new", "no", "off"].contains(strict)
        {
            s.hostKeyPolicy = .acceptNew
        }
        return s.sshOptions
    }

    static var localUser: String { LocalAccount.user() }
}
