extension DeployConfig {
    /// `hosts:` in shipit.yml: names or addresses in order, each alone or with its roles
    /// (`{host: web-1, roles: [web]}`).
    static func parseHosts(_ hostsReader: YAMLReader) throws -> ([String], roles: [String: [String]]) {
        var hosts: [String] = []
        var roles: [String: [String]] = [:]
        for h in try hostsReader.sequence() {
            var name: String
            var hostRoles: [String]?
            if case .mapping = h.node {
                let m = try h.mapping(allowed: ["host", "roles"])
                guard let hr = m["host"] else { throw h.fail("missing 'host'") }
                name = try hr.string()
                if let r = m["roles"] {
                    let list = try r.stringList()
                    for role in list { try r.check { try Names.identifier(role, field: $0) } }
                    hostRoles = list
                }
            } else {
                name = try h.string()
            }
            // `[::1]` and `::1` are one host: the bare form is the one every other place uses.
            let given = name
            try h.check { name = try HostName.normalized(given, field: $0) }
            if let hostRoles { roles[name] = hostRoles }
            guard !hosts.contains(name) else { throw h.fail("host \(name) is listed twice") }
            hosts.append(name)
        }
        guard !hosts.isEmpty else { throw hostsReader.fail("at least one host is needed") }
        return (hosts, roles)
    }
}
