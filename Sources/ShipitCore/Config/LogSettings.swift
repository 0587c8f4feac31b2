import FoundationEssentials

/// `logs:` in shipit.yml: where the app's log lines are on each host, for `shipit logs` and the
/// triage's logs layer.
public struct LogSettings: Sendable, Equatable {
    public enum Source: Sendable, Equatable {
        /// A file (the last path component may be a glob), absolute on the host.
        case file(String)
        /// A command printing log lines (gets `SHIPIT_SINCE`/`SHIPIT_UNTIL`), e.g.
        /// `journalctl --user -u app --utc -o short-iso --since "$SHIPIT_SINCE"`.
        case command(String)
        /// The image strategy's running container (`<engine> logs --timestamps`).
        case container
        /// One named container's logs (the image strategy's role containers, `<app>-<role>`).
        case namedContainer(String)
    }

    public var source: Source
    /// What counts as an error line (POSIX extended regex) for the triage's logs layer.
    public var errors = "ERROR|FATAL|CRITICAL|PANIC|[Pp]anic|Exception|Traceback"
    /// The most `shipit logs` takes from one host (the newest bytes).
    public var maxBytes = 1 << 20

    /// Symlink: Capistrano's convention, `shared/log/*.log`; image: the container's own logs.
    static func defaults(strategy: DeployConfig.Strategy, deployTo: String) -> LogSettings {
        LogSettings(source: strategy == .image ? .container : .file(deployTo + "/shared/log/*.log"))
    }

    static func parse(_ r: YAMLReader, strategy: DeployConfig.Strategy, deployTo: String) throws -> LogSettings {
        var s = defaults(strategy: strategy, deployTo: deployTo)
        let m = try r.mapping(allowed: ["path", "command", "container", "errors", "max_bytes"])
        let given = ["path", "command", "container"].filter { m[$0] != nil }
        guard given.count <= 1 else {
            throw r.fail("give one of path, command, container (not \(given.joined(separator: " and ")))")
        }
        if let v = m["path"] {
            let p = try v.string()
            let full = p.hasPrefix("/") ? p : deployTo + "/" + p
            guard !full.contains(".."),
                full.allSatisfy({ $0.isASCII && !$0.isWhitespace && !"'\"`$;&|<>\\(){}".contains($0) })
            else {
                throw v.fail(
                    "expected a path without spaces, quotes, '..' or shell metacharacters (a '*' or '?' glob in it is fine)"
                )
            }
            s.source = .file(full)
        }
        if let v = m["command"] { s.source = .command(try v.string()) }
        if let v = m["container"] {
            guard try v.bool() else { throw v.fail("only 'container: true' means something") }
            guard strategy == .image else { throw v.fail("the container's logs are for 'strategy: image'") }
            s.source = .container
        }
        if let v = m["errors"] { s.errors = try v.string() }
        if let v = m["max_bytes"] { s.maxBytes = try v.int(1024...(256 << 20)) }
        return s
    }
}
