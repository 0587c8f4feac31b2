import FoundationEssentials

/// Which hosts a command works on, from its flags: `--hosts` (a list instead of the config's),
/// `--roles` (the hosts with one of these roles), `--role` (the hosts with this one role: `shipit
/// logs`) and `--host` (`shipit logs`: some of the config's hosts; `shipit exec`: one host, of the
/// config or not). Every command selects through here, so the flags mean the same everywhere.
public struct HostSelection: Sendable {
    public var hosts: String?
    public var roles: String?
    public var role: String?
    public var host: String?

    public init(hosts: String? = nil, roles: String? = nil, role: String? = nil, host: String? = nil) {
        self.hosts = hosts
        self.roles = roles
        self.role = role
        self.host = host
    }

    /// Narrows `config.hosts`, in this order: `--hosts`, `--roles`, `--role`, `--host`. `--hosts` and
    /// `--roles` are recorded in the config's settings (they change what a run deploys);
    /// `wholeHosts`: a deploy or rollback, which switches a host for all its roles at once.
    public func apply(to config: inout DeployConfig, wholeHosts: Bool = false) throws {
        if let hosts {
            config.hosts = try HostName.parseList(hosts, field: "--hosts")
            config.override("hosts", config.hosts.joined(separator: ", "))
        }
        if let roles { try config.select(roles: roles, wholeHosts: wholeHosts) }
        let all = config.hosts
        var kept = all
        if let role {
            let r = config.hostRoles
            kept = kept.filter { r.roles(of: $0).contains(role) }
            guard !kept.isEmpty else {
                throw ShipitError.input("--role: no host has the role '\(role)' (hosts[].roles)")
            }
        }
        if let host {
            let wanted = try HostName.parseList(host, field: "--host")
            for h in wanted where !all.contains(h) {
                throw ShipitError.input("--host: \(h) is not one of the config's hosts")
            }
            kept = kept.filter { wanted.contains($0) }
            guard !kept.isEmpty else {
                throw ShipitError.input("--host: none of these hosts has the role '\(role ?? "")'")
            }
        }
        config.hosts = kept
    }

    /// The hosts `shipit exec` runs on, the settings it reaches them with, and the config when there
    /// is one.
    public struct Targets: Sendable {
        public var hosts: [String]
        public var connection: ConnectionSettings
        public var config: DeployConfig?
    }

    /// `shipit exec`: `--hosts` with the flags alone; else the config's hosts (narrowed by `--roles`,
    /// or the one `--host`, which need not be the config's) and its ssh settings. The config is
    /// `configFile` (default shipit.yml, needed only when it exists or is named); `inRelease`: the
    /// command runs in the serving release, which needs the config.
    public func execTargets(configFile: String?, stage: String?, inRelease: Bool) throws -> Targets {
        if let hosts {
            guard roles == nil, host == nil else {
                throw ShipitError.input("--hosts: give --hosts, --host or --roles, not two of them")
            }
            guard !inRelease else {
                throw ShipitError.input("--release: needs the config (--config) and --host or --roles, not --hosts")
            }
            return Targets(
                hosts: try HostName.parseList(hosts, field: "--hosts"), connection: ConnectionSettings(), config: nil)
        }
        let file = configFile ?? "shipit.yml"
        let hasConfig = configFile != nil || stage != nil || FileManager.default.fileExists(atPath: file)
        if let given = host {
            let host = try HostName.normalized(given, field: "--host")
            guard roles == nil else { throw ShipitError.input("--host: give --host or --roles, not both") }
            guard hasConfig else {
                guard !inRelease else {
                    throw ShipitError.input("--release: needs the config (no shipit.yml here; --config FILE)")
                }
                return Targets(hosts: [host], connection: ConnectionSettings(), config: nil)
            }
            let config = try DeployConfig.load(file: file, stage: stage)
            return Targets(hosts: [host], connection: config.connection, config: config)
        }
        guard hasConfig || roles != nil else {
            throw ShipitError.input("--hosts: no hosts given (and no shipit.yml here to take them from)")
        }
        var config = try DeployConfig.load(file: file, stage: stage)
        if let roles { try config.select(roles: roles, wholeHosts: false) }
        return Targets(hosts: config.hosts, connection: config.connection, config: config)
    }
}
