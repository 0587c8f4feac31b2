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
        var vars: [(String, String)] = []
        var probes: [ScriptText] = []
        for (i, c) in checks(for: host).enumerated() {
            vars += [("CHECK_\(i)", c.command), ("CHECK_\(i)_TIMEOUT", String(c.timeout))]
            probes.append(
                """
                out=$(timeout "$CHECK_\(i)_TIMEOUT" sh -c "$CHECK_\(i)" 2>&1 </dev/null); rc=$?
                echo "check.\(c.name)=$rc"
                echo "check.\(c.name).out=$(printf '%s' "$out" | tail -c 200 | tr '\\n' ' ')"
                """)
        }
        let resources: ScriptText = """
            p="$D"; while [ ! -d "$p" ] && [ "$p" != / ]; do p=$(dirname "$p"); done
            df -Pk "$p" 2>/dev/null | awk 'NR == 2 { sub("%", "", $5); print "disk.used_pct=" $5; print "disk.avail_kb=" $4; print "disk.mount=" $6 }'
            df -Pi "$p" 2>/dev/null | awk 'NR == 2 && $2 > 0 { sub("%", "", $5); print "inodes.used_pct=" $5 }'
            awk '/^MemTotal:/ { print "mem.total_kb=" $2 } /^MemAvailable:/ { print "mem.available_kb=" $2 }' /proc/meminfo 2>/dev/null
            read -r l1 l5 _ < /proc/loadavg 2>/dev/null && echo "load.1=$l1" && echo "load.5=$l5"
            echo "cpus=$(getconf _NPROCESSORS_ONLN 2>/dev/null || echo 1)"
            read -r fa _ fm < /proc/sys/fs/file-nr 2>/dev/null && echo "fds.used=$fa" && echo "fds.max=$fm"
            """
        var script = HostScript(
            .triage, layout: config.layout, timeout: 30, variables: vars, resources + ScriptText.lines(probes) + "true")
        if let inspect = Strategies.make(config).inspect(verify: false, historyLines: historyLines, host: host)
            .hostScript
        {
            script = script.then(inspect)
        }
        // The schema layer, on the migration host: what the database applied, and the current
        // release's files (their checksums), compared on the deployer. Failures are findings.
        if let m = config.migrations, m.migrationHost(in: config) == host {
            let files = HostScript(
                .triage, layout: config.layout, timeout: 30, variables: [("MIGRATIONS_DIR", m.dir)],
                """
                [ -d "$CURRENT/$MIGRATIONS_DIR" ] && (cd "$CURRENT/$MIGRATIONS_DIR" && for f in *.sql; do [ -f "$f" ] && sha256sum "$f"; done) | sed 's/^/mfile=/'
                echo "mfiles=done"
                """)
            script = script.then(files)
            if let status = MigrationCommands(layout: config.layout, settings: m).status().hostScript {
                script = script.thenReporting(status, errorsAs: "schema.error")
            }
        }
        return script.command
    }
}
