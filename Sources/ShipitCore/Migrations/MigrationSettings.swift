import FoundationEssentials
import SSH

/// `migrations:` in shipit.yml (docs/migrations.md).
public struct MigrationSettings: Sendable, Equatable {
    /// Directory inside the release holding `NNNN_name.sql`.
    public var dir: String
    /// The host that runs them: given, else the first host with `role`, else the first host.
    public var host: String?
    public var role: String?
    /// On the migration host: a shell env file defining DATABASE_URL (never printed or stored).
    public var envFile: String

    static func parse(_ r: YAMLReader) throws -> MigrationSettings {
        let m = try r.mapping(allowed: ["dir", "host", "role", "env_file"])
        guard let d = m["dir"], let e = m["env_file"] else {
            throw r.fail("needs 'dir' (inside the release) and 'env_file' (on the host, defines DATABASE_URL)")
        }
        let dir = try d.string()
        try d.check { try Names.relativePath(dir, field: $0) }
        let env = try e.string()
        try e.check { try Names.absolutePath(env, field: $0) }
        var s = MigrationSettings(dir: dir, envFile: env)
        if let h = m["host"] {
            let host = try h.string()
            try h.check { s.host = try HostName.normalized(host, field: $0) }
        }
        if let ro = m["role"] {
            let role = try ro.string()
            try ro.check { try Names.identifier(role, field: $0) }
            s.role = role
        }
        return s
    }

    public func migrationHost(in config: DeployConfig) -> String {
        if let host, config.hosts.contains(host) { return host }
        if let role, let h = config.hosts.first(where: { config.roles[$0]?.contains(role) == true }) { return h }
        return config.hosts[0]
    }
}

/// Remote scripts for the migration host. DATABASE_URL comes from the env file on the host and is
/// only ever expanded inside these scripts.
public struct MigrationCommands: Sendable {
    public let layout: HostLayout
    public let settings: MigrationSettings

    public init(layout: HostLayout, settings: MigrationSettings) {
        self.layout = layout
        self.settings = settings
    }

    static let table = "shipit_schema_migrations"

    private func script(_ step: HostStep, _ vars: [(String, String)], _ body: String) -> RemoteCommand {
        HostScript.make(
            step, layout: layout, [("ENVF", settings.envFile)] + vars,
            """
            fail() { code=$1; shift; echo "error=$*"; exit "$code"; }
            short() { printf '%s' "$1" | tail -c 600 | tr '\\n' ' '; }
            [ -r "$ENVF" ] || fail 40 "migrations: cannot read $ENVF on $(hostname)"
            set -a; . "$ENVF"; set +a
            [ -n "${DATABASE_URL:-}" ] || fail 40 "migrations: DATABASE_URL is not set in $ENVF"
            command -v psql >/dev/null 2>&1 || fail 41 "migrations: psql is not installed on this host"
            q() { psql "$DATABASE_URL" -qtAX -v ON_ERROR_STOP=1 "$@"; }

            """ + body, timeout: 600)
    }

    /// `applied=<version> <checksum> <name>` lines (none before the first migration).
    public func status() -> RemoteCommand {
        script(
            .migrationStatus, [],
            """
            out=$(q -c "SELECT to_regclass('\(Self.table)') IS NOT NULL" 2>&1) || fail 42 "migrations: database unreachable: $(short "$out")"
            if [ "$out" = t ]; then
              out=$(q -F ' ' -c "SELECT version, checksum, name FROM \(Self.table) ORDER BY version" 2>&1) || fail 42 "migrations: $(short "$out")"
              [ -z "$out" ] || printf '%s\\n' "$out" | sed 's/^/applied=/'
            fi
            true
            """)
    }

    /// Image strategy: copies the migration files out of the image (a created, never started
    /// container) into `.shipit/migrations-<id>/` and prints them (`mfile=<name> <base64>`), so
    /// the deployer can lint them and check drift before anything changes.
    public func fetchFromImage(engine: [String], reference: String, releaseID: String) -> RemoteCommand {
        script(
            .migrationFetch,
            [
                ("ID", releaseID), ("REF", reference), HostScript.engineVariable(engine),
                ("MDIR", settings.dir), ("T", layout.imageMigrations(releaseID)),
            ],
            """
            \(HostScript.engineFunction)
            rm -rf "$T" "$T.c"; mkdir -p "$META"
            c=$(eng create "$REF" 2>&1) || fail 44 "migrations: cannot create a container from $REF: $(short "$c")"
            c=$(printf '%s' "$c" | tail -n 1)
            if eng cp "$c:/$MDIR" "$T.c" >/dev/null 2>&1; then mv "$T.c" "$T"; else mkdir -p "$T"; fi
            eng rm -f "$c" >/dev/null 2>&1 || true
            for f in "$T"/*.sql; do [ -f "$f" ] && echo "mfile=${f##*/} $(base64 -w0 < "$f")"; done
            true
            """)
    }

    /// Applies `files` from the uploaded release, in order; each with its record in one transaction
    /// (files with CONCURRENTLY run outside one, then record). Stops at the first error, with the
    /// file and line psql reports.
    /// `fromImage`: the files were copied out of the image into `.shipit/migrations-<id>/`.
    public func apply(releaseID: String, files: [MigrationSet.File], fromImage: Bool = false) -> RemoteCommand {
        var body = """
            R=\(ShellQuote.quote(fromImage ? layout.imageMigrations(releaseID) : layout.release(releaseID)))
            out=$(q -c "CREATE TABLE IF NOT EXISTS \(Self.table) (version bigint PRIMARY KEY, name text NOT NULL, checksum text NOT NULL, release_id text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())" 2>&1) || fail 42 "migrations: $(short "$out")"

            """
        for f in files {
            let record =
                "INSERT INTO \(Self.table) (version, name, checksum, release_id) VALUES (\(f.version), '\(f.name)', '\(f.checksum)', '\(releaseID)')"
            let tx = f.needsNoTransaction ? "" : "--single-transaction "
            body += """
                out=$(q \(tx)-f "$R/"\(ShellQuote.quote(fromImage ? FilePath.lastComponent(of: f.path) : f.path)) -c \(ShellQuote.quote(record)) 2>&1) || fail 43 "migration \(f.label) failed: $(short "$out")"
                echo "applied=\(f.label)"

                """
        }
        return script(.migrate, [("ID", releaseID)], body + "true")
    }
}
