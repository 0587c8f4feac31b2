import FoundationEssentials

/// `shipit check` on one host: a read-only script (pre-flight without the lock, the upload or the
/// proxy start) reporting what a deploy needs, followed by the strategy's inventory (current
/// release, lock). With `fix` it first creates `deploy_to` and its layout and, where a supervisor
/// runs user units, makes the deploy user linger; nothing else.
public struct HostCheck: Sendable {
    public let config: DeployConfig

    public init(config: DeployConfig) { self.config = config }

    /// The commands a deploy to `host` runs there, by what needs them.
    public func tools(host: String) -> [(tool: String, why: String)] {
        var t: [(String, String)] = Strategies.make(config).requiredTools(host: host).map { ($0.tool, $0.why) }
        let roles = config.hostRoles
        // A host that runs only role processes has no proxy.
        if let traffic = config.traffic, roles.runsApp(host) {
            switch traffic.mode {
            case .managed: t.append((traffic.nginx, "traffic switch (managed nginx)"))
            case .system:
                for cmd in [traffic.test, traffic.reload].compactMap({ $0 }) {
                    if let first = cmd.split(separator: " ").first {
                        t.append((String(first), "traffic switch (system nginx)"))
                    }
                }
            }
        }
        if let m = config.migrations, m.migrationHost(in: config) == host {
            t.append(("psql", "migrations (this host runs them)"))
        }
        var seen = Set<String>()
        return t.filter { seen.insert($0.0).inserted }
    }

    public func command(host: String, fix: Bool) -> RemoteCommand {
        let toolList = tools(host: host).map(\.tool).joined(separator: "\n")
        let strategy = Strategies.make(config)
        let supervisor = strategy.supervisor.map { SupervisorCheck(supervision: $0).script }
        let check = HostScript(
            .check, layout: config.layout, timeout: 30,
            variables: [("FIX", fix ? "1" : ""), ("TOOLS", toolList)] + (supervisor?.vars ?? []),
            uses: supervisor?.uses ?? [],
            """
            PATH="$PATH:/usr/sbin:/usr/local/sbin"
            echo "clock=$(date +%s.%N)"
            echo "user=$(id -un)"
            if [ -n "$FIX" ] && ! { [ -d "$RELEASES" ] && [ -d "$SHARED" ] && [ -d "$FAILED" ]; }; then
              if err=$(mkdir -p "$RELEASES" "$SHARED" "$FAILED" 2>&1); then echo "fixed=created $D and its layout"; else echo "fixfailed=mkdir -p $D: $err"; fi
            fi
            # The nearest directory that exists: where the first deploy's mkdir -p starts.
            p=$D
            while [ ! -d "$p" ]; do p=${p%/*}; [ -n "$p" ] || p=/; done
            echo "existing=$p"
            [ -w "$p" ] && echo "writable=1" || echo "writable=0"
            [ -d "$RELEASES" ] && [ -d "$SHARED" ] && echo "layout=1" || echo "layout=0"
            echo "diskkb=$(df -Pk "$p" 2>/dev/null | awk 'NR==2 {print $4}')"
            printf '%s\\n' "$TOOLS" | while IFS= read -r t; do
              [ -n "$t" ] || continue
              if command -v "$t" >/dev/null 2>&1; then echo "tool=ok $t"; else echo "tool=missing $t"; fi
            done
            """ + (supervisor?.body ?? .empty)
        ).command
        return check.then(strategy.inventory(host: host))
    }
}
