import FoundationEssentials

/// `triage:` in shipit.yml: thresholds for the resource checks and the dependency/process checks
/// the playbook runs on the hosts (docs/incident-triage.md).
public struct TriageSettings: Sendable, Equatable {
    public struct Check: Sendable, Equatable {
        public enum Layer: String, Sendable, Codable { case process, dependency }
        public var name: String
        /// Run by the login shell on each host; exit 0 = pass.
        public var command: String
        public var layer: Layer = .dependency
        /// Only on hosts with one of these roles (all hosts when empty).
        public var roles: [String] = []
        public var timeout: Double = 5
    }

    public var checks: [Check] = []
    public var diskMinFreePercent: Double = 10
    public var memoryMinAvailablePercent: Double = 5
    public var loadMaxPerCPU: Double = 4
    public var openFilesMaxPercent: Double = 90

    public init() {}
}

extension TriageSettings {
    static func parse(_ r: YAMLReader) throws -> TriageSettings {
        let m = try r.mapping(allowed: [
            "checks", "disk_min_free_percent", "memory_min_available_percent", "load_max_per_cpu",
            "open_files_max_percent",
        ])
        var t = TriageSettings()
        if let v = m["disk_min_free_percent"] { t.diskMinFreePercent = try v.double(0...100) }
        if let v = m["memory_min_available_percent"] { t.memoryMinAvailablePercent = try v.double(0...100) }
        if let v = m["load_max_per_cpu"] { t.loadMaxPerCPU = try v.double(0.1...1000) }
        if let v = m["open_files_max_percent"] { t.openFilesMaxPercent = try v.double(1...100) }
        if let list = m["checks"] {
            for item in try list.sequence() {
                let c = try item.mapping(allowed: ["name", "command", "layer", "roles", "timeout"])
                guard let n = c["name"], let cmd = c["command"] else {
                    throw item.fail("a check needs 'name' and 'command'")
                }
                let name = try n.string()
                try n.check { try Names.identifier(name, field: $0) }
                guard !t.checks.contains(where: { $0.name == name }) else {
                    throw n.fail("check '\(name)' is listed twice")
                }
                var check = Check(name: name, command: try cmd.string())
                if let l = c["layer"] {
                    guard let layer = Check.Layer(rawValue: try l.string()) else {
                        throw l.fail("expected 'dependency' or 'process'")
                    }
                    check.layer = layer
                }
                if let roles = c["roles"] { check.roles = try roles.stringList() }
                if let to = c["timeout"] { check.timeout = try to.double(0.1...300) }
                t.checks.append(check)
            }
        }
        return t
    }
}
