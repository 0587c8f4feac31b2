import ShipitSupport

/// Which hosts run the app and which role processes (`roles:`) each host runs. A host runs the
/// app unless every role it has is a process role; a host listed without roles has the role `web`.
public struct HostRoles: Sendable {
    public var byHost: [String: [String]]
    public var processRoles: [ProcessRole]

    public init(byHost: [String: [String]] = [:], processRoles: [ProcessRole] = []) {
        self.byHost = byHost
        self.processRoles = processRoles
    }

    public init(_ config: DeployConfig) { self.init(byHost: config.roles, processRoles: config.processRoles) }

    public static let defaultRole = "web"

    public func roles(of host: String) -> [String] {
        let r = byHost[host] ?? []
        return r.isEmpty ? [Self.defaultRole] : r
    }

    /// The process roles `host` runs, in config order.
    public func processes(on host: String) -> [ProcessRole] {
        let mine = Set(roles(of: host))
        return processRoles.filter { mine.contains($0.name) }
    }

    /// Whether `host` runs the app (its start, health check and traffic switch).
    public func runsApp(_ host: String) -> Bool {
        let names = Set(processRoles.map(\.name))
        return !roles(of: host).allSatisfy(names.contains)
    }
}

extension DeployConfig {
    public var hostRoles: HostRoles { HostRoles(self) }

    /// `--roles a,b`: keeps the hosts that have one of the roles. For a deploy or rollback
    /// (`wholeHosts`), a kept host must have no role outside the selection: its release is one
    /// `current`, and switching it for one role would leave the others' processes on the old one.
    public mutating func select(roles list: String, wholeHosts: Bool) throws {
        let wanted = list.split(separator: ",").map { $0.trimmed() }.filter { !$0.isEmpty }
        guard !wanted.isEmpty else { throw ShipitError.input("--roles: no role given") }
        let r = hostRoles
        let known = Set(hosts.flatMap { r.roles(of: $0) })
        for role in wanted where !known.contains(role) {
            throw ShipitError.input(
                "--roles: no host has the role '\(role)' (roles here: \(known.sorted().joined(separator: ", ")))")
        }
        let selected = Set(wanted)
        let kept = hosts.filter { !selected.isDisjoint(with: r.roles(of: $0)) }
        if wholeHosts {
            for host in kept {
                let others = r.roles(of: host).filter { !selected.contains($0) }
                guard others.isEmpty else {
                    throw ShipitError.input(
                        "--roles \(wanted.joined(separator: ",")): host \(host) also has the role(s) \(others.joined(separator: ", ")), which would be left on the old release; add them to --roles, or leave --roles out"
                    )
                }
            }
        }
        hosts = kept
        override("(roles)", wanted.joined(separator: ","))
    }
}
