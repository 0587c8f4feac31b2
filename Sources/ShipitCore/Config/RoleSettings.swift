import SSH

/// `roles:` in shipit.yml: processes that run beside the app, on the hosts with their role
/// (`hosts: [{host: jobs-1, roles: [worker]}]`), restarted with every release — background
/// workers, schedulers. A role named in `hosts[].roles` but not declared here (e.g. `web`, `db`)
/// is the app itself: its `start`, health check and traffic switch.
public struct ProcessRole: Sendable, Equatable {
    public var name: String
    /// The process, in the foreground (shipit runs it in the background in its own session, in
    /// the release directory, keeps its pid, and sends its output to `log`).
    public var command: String
    /// Its health check, run in the release directory and retried until the health deadline: exit
    /// 0 = healthy. Without one, the process must still be running after `settle` seconds.
    public var status: String?
    /// What stops it gracefully (so a job in flight finishes); KILL after `stopTimeout` seconds.
    public var stopSignal = "TERM"
    public var stopTimeout: Double = 10
    /// How long a role without a `status` must stay up to count as started.
    public var settle: Double = 1
    /// Where its output goes on the host (absolute); `shipit logs` reads it for this role.
    public var log: String
    /// Where `shipit logs` reads this role's lines instead (`logs: {path|command|container}`): e.g.
    /// a worker that writes its own log file, or journald.
    public var logSource: LogSettings.Source?

    /// The signals a process may be asked to stop with (`kill -s NAME`).
    static let signals: Set<String> = ["TERM", "INT", "QUIT", "HUP", "USR1", "USR2", "WINCH", "KILL"]

    static func parse(name: String, _ r: YAMLReader, strategy: DeployConfig.Strategy, deployTo: String) throws
        -> ProcessRole
    {
        let m = try r.mapping(allowed: [
            "cmd", "start", "status", "stop_signal", "stop_timeout", "settle", "log", "logs",
        ])
        if m["cmd"] != nil, m["start"] != nil { throw r.fail("give 'cmd' or 'start' (the same thing), not both") }
        guard let c = m["cmd"] ?? m["start"] else {
            throw r.fail(
                "missing 'cmd': the role's process, run in the foreground (a role without its own process is the app: leave it out of 'roles')"
            )
        }
        let command = try c.string()
        guard !command.trimmed().isEmpty else { throw c.fail("empty command") }
        var role = ProcessRole(name: name, command: command, log: deployTo + "/shared/log/\(name).log")
        if let v = m["status"] { role.status = try v.string() }
        if let v = m["stop_signal"] {
            var s = try v.string().uppercased()
            if s.hasPrefix("SIG") { s.removeFirst(3) }
            guard Self.signals.contains(s) else {
                throw v.fail("expected one of \(Self.signals.sorted().joined(separator: ", "))")
            }
            role.stopSignal = s
        }
        if let v = m["stop_timeout"] { role.stopTimeout = try v.double(0...3600) }
        if let v = m["settle"] { role.settle = try v.double(0...600) }
        if let v = m["log"] {
            let p = try v.string()
            let full = p.hasPrefix("/") ? p : deployTo + "/" + p
            try v.check { try Names.absolutePath(full, field: $0) }
            role.log = full
        }
        if let v = m["logs"] {
            let keys = try v.mapping(allowed: nil).keys
            guard keys.allSatisfy({ ["path", "command", "container"].contains($0) }) else {
                throw v.fail("expected one of path, command, container")
            }
            role.logSource = try LogSettings.parse(v, strategy: strategy, deployTo: deployTo).source
        }
        return role
    }
}
