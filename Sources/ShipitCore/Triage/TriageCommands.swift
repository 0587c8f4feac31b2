/// The triage probe of one host as ONE remote script: resource facts from /proc and df, the
/// configured checks (each bounded by `timeout`), then the strategy's inspection (releases, lock,
/// container state, recent history). Facts come back as `key=value` lines.
public struct TriageCommands: Sendable {
    public let config: DeployConfig

    public init(config: DeployConfig) { self.config = config }

    /// The checks that apply to `host` (by role).
    public func checks(for host: String) -> [TriageSettings.Check] {
        let roles = Set(config.roles[host] ?? [])
        return config.triage.checks.filter { $0.roles.isEmpty || !roles.isDisjoint(with: $0.roles) }
    }

    public func probe(host: String, historyLines: Int) -> RemoteCommand {
        var vars: [(String, String)] = [("D", config.deployTo)]
        var body = """
            set -u
            p="$D"; while [ ! -d "$p" ] && [ "$p" != / ]; do p=$(dirname "$p"); done
            df -Pk "$p" 2>/dev/null | awk 'NR == 2 { sub("%", "", $5); print "disk.used_pct=" $5; print "disk.avail_kb=" $4; print "disk.mount=" $6 }'
            df -Pi "$p" 2>/dev/null | awk 'NR == 2 && $2 > 0 { sub("%", "", $5); print "inodes.used_pct=" $5 }'
            awk '/^MemTotal:/ { print "mem.total_kb=" $2 } /^MemAvailable:/ { print "mem.available_kb=" $2 }' /proc/meminfo 2>/dev/null
            read l1 l5 l15 rest < /proc/loadavg 2>/dev/null && echo "load.1=$l1" && echo "load.5=$l5"
            echo "cpus=$(getconf _NPROCESSORS_ONLN 2>/dev/null || echo 1)"
            read fa fu fm < /proc/sys/fs/file-nr 2>/dev/null && echo "fds.used=$fa" && echo "fds.max=$fm"

            """
        for (i, c) in checks(for: host).enumerated() {
            vars += [("C\(i)", c.command), ("T\(i)", String(c.timeout))]
            body += """
                out=$(timeout "$T\(i)" sh -c "$C\(i)" 2>&1 </dev/null); rc=$?
                echo "check.\(c.name)=$rc"
                echo "check.\(c.name).out=$(printf '%s' "$out" | tail -c 200 | tr '\\n' ' ')"

                """
        }
        var cmd = RemoteCommand(script: HostScript.assign(vars) + "\n" + body + "true", step: .triage, timeout: 30)
            .then(Strategies.make(config).inspect(verify: false, historyLines: historyLines, host: host))
        // The schema layer, on the migration host: what the database applied, and the current
        // release's files (their checksums), compared on the deployer. Failures are findings.
        if let m = config.migrations, m.migrationHost(in: config) == host {
            let files = RemoteCommand(
                script: HostScript.assign([("CURRENT", config.layout.current), ("MDIR", m.dir)]) + """

                    [ -d "$CURRENT/$MDIR" ] && (cd "$CURRENT/$MDIR" && for f in *.sql; do [ -f "$f" ] && sha256sum "$f"; done) | sed 's/^/mfile=/'
                    echo "mfiles=done"
                    """)
            let status = MigrationCommands(layout: config.layout, settings: m).status()
            let guarded = RemoteCommand(script: "( \(status.rendered) ) | sed 's/^error=/schema.error=/'; true")
            cmd = cmd.then(files).then(guarded)
        }
        return cmd
    }
}
