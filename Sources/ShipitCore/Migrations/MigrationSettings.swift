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
    /// nil: the release's own environment (`DATABASE_URL` in `secrets:` or `env:`).
    public var envFile: String?

    static func parse(_ r: YAMLReader) throws -> MigrationSettings {
        let m = try r.mapping(allowed: ["dir", "host", "role", "env_file"])
        guard let d = m["dir"] else { throw r.fail("needs 'dir' (inside the release)") }
        let dir = try d.string()
        try d.check { try Names.relativePath(dir, field: $0) }
        var env: String?
        if let e = m["env_file"] {
            let path = try e.string()
            try e.check { try Names.absolutePath(path, field: $0) }
            env = path
        }
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

    /// `pg_url URL`: `$PG_URL`, the URL without its password, and the password (percent-decoded)
    /// exported as `PGPASSWORD`, which libpq reads: psql's arguments are in every host user's
    /// process list, its environment is not.
    public static let pgURL = ShellFunction(
        "pg_url",
        """
        pg_url() {
          PG_URL=$1
          case $1 in *://*) ;; *) return 0 ;; esac
          pg_scheme=${1%%://*}; pg_rest=${1#*://}; pg_auth=${pg_rest%%/*}; pg_path=${pg_rest#"$pg_auth"}
          case $pg_auth in *@*) ;; *) return 0 ;; esac
          pg_user=${pg_auth%@*}; pg_host=${pg_auth##*@}
          case $pg_user in *:*) ;; *) return 0 ;; esac
          PGPASSWORD=$(printf '%s' "${pg_user#*:}" | awk 'BEGIN { hex = "0123456789abcdef" }
            { s = $0; out = ""
              while ((i = index(s, "%")) > 0) {
                out = out substr(s, 1, i - 1); h = tolower(substr(s, i + 1, 2))
                a = index(hex, substr(h, 1, 1)); b = index(hex, substr(h, 2, 1))
                if (length(h) == 2 && a > 0 && b > 0) { out = out sprintf("%c", (a - 1) * 16 + b - 1); s = substr(s, i + 3) }
                else { out = out "%"; s = substr(s, i + 1) }
              }
              printf "%s", out s }')
          export PGPASSWORD
          PG_URL="$pg_scheme://${pg_user%%:*}@$pg_host$pg_path"
        }
        """)

    /// `sql ARGS…`: psql on the database, quiet, unaligned, stopping at the first error. The env
    /// file is read in psql's own subshell (its PG* variables apply; none of its names reaches
    /// the script), and the password goes in psql's environment, not its arguments.
    static let sql = ShellFunction(
        "sql", requires: [pgURL],
        """
        sql() {
          (
            set -a
            # shellcheck source=/dev/null
            . "$ENV_FILE"
            set +a
            pg_url "${DATABASE_URL:-}"
            exec psql "$PG_URL" -qtAX -v ON_ERROR_STOP=1 "$@"
          )
        }
        """)

    private func script(_ step: HostStep, _ vars: [(String, String)], uses: [ShellFunction] = [], _ body: ScriptText)
        -> RemoteCommand
    {
        // Without env_file: the environment of the release being migrated (`$ID`), or of the one
        // the host runs (a status check outside a deploy).
        let connect: ScriptText = """
            if [ -z "$ENV_FILE" ]; then
              rid=${ID:-}
              if [ -z "$rid" ]; then rid=$(readlink "$CURRENT" 2>/dev/null) && rid=${rid##*/}; fi
              if [ -z "$rid" ] && [ -f "$IMAGE_CURRENT" ]; then read -r rid < "$IMAGE_CURRENT"; fi
              ENV_FILE="$META/env/$rid"
            fi
            [ -r "$ENV_FILE" ] || fail \(ScriptExit.migrationsUnreadable) "migrations: cannot read $ENV_FILE on $(hostname)"
            # shellcheck source=/dev/null
            [ -n "$(. "$ENV_FILE"; printf '%s' "${DATABASE_URL:-}")" ] || fail \(ScriptExit.migrationsUnreadable) "migrations: DATABASE_URL is not set in $ENV_FILE"
            command -v psql >/dev/null 2>&1 || fail \(ScriptExit.migrationsDatabase) "migrations: psql is not installed on this host"
            """
        return HostScript(
            step, layout: layout, timeout: 600, variables: [("ENV_FILE", settings.envFile ?? "")] + vars,
            uses: [.fail, .short, Self.sql] + uses, connect + body
        ).command
    }

    /// `applied=<version> <checksum> <name>` lines (none before the first migration).
    /// `releaseID`: whose environment connects (without `env_file`); nil: the running release's.
    public func status(releaseID: String? = nil) -> RemoteCommand {
        script(
            .migrationStatus, releaseID.map { [("ID", $0)] } ?? [],
            """
            out=$(sql -c "SELECT to_regclass('\(Self.table)') IS NOT NULL" 2>&1) || fail \(ScriptExit.migrationsRecord) "migrations: database unreachable: $(short "$out" 600)"
            if [ "$out" = t ]; then
              out=$(sql -F ' ' -c "SELECT version, checksum, name FROM \(Self.table) ORDER BY version" 2>&1) || fail \(ScriptExit.migrationsRecord) "migrations: $(short "$out" 600)"
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
                ("ID", releaseID), ("REF", reference), ShellFunction.engineVariable(engine),
                ("MIGRATIONS_DIR", settings.dir), ("COPY_DIR", layout.imageMigrations(releaseID)),
            ], uses: [.engine],
            """
            rm -rf "$COPY_DIR" "$COPY_DIR.c"; mkdir -p "$META"
            c=$(eng create "$REF" 2>&1) || fail \(ScriptExit.migrationsCopy) "migrations: cannot create a container from $REF: $(short "$c" 600)"
            c=$(printf '%s' "$c" | tail -n 1)
            if eng cp "$c:/$MIGRATIONS_DIR" "$COPY_DIR.c" >/dev/null 2>&1; then mv "$COPY_DIR.c" "$COPY_DIR"; else mkdir -p "$COPY_DIR"; fi
            eng rm -f "$c" >/dev/null 2>&1 || true
            for f in "$COPY_DIR"/*.sql; do [ -f "$f" ] && echo "mfile=${f##*/} $(base64 -w0 < "$f")"; done
            true
            """)
    }

    /// Applies `files` from the uploaded release, in order; each with its record in one transaction
    /// (files with CONCURRENTLY run outside one, then record). Stops at the first error, with the
    /// file and line psql reports.
    /// `fromImage`: the files were copied out of the image into `.shipit/migrations-<id>/`.
    public func apply(releaseID: String, files: [MigrationSet.File], fromImage: Bool = false) -> RemoteCommand {
        var body: ScriptText = """
            R=\(ShellQuote.quote(fromImage ? layout.imageMigrations(releaseID) : layout.release(releaseID)))
            out=$(sql -c "CREATE TABLE IF NOT EXISTS \(Self.table) (version bigint PRIMARY KEY, name text NOT NULL, checksum text NOT NULL, release_id text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())" 2>&1) || fail \(ScriptExit.migrationsRecord) "migrations: $(short "$out" 600)"

            """
        for f in files {
            let record =
                "INSERT INTO \(Self.table) (version, name, checksum, release_id) VALUES (\(f.version), '\(f.name)', '\(f.checksum)', '\(releaseID)')"
            let tx = f.needsNoTransaction ? "" : "--single-transaction "
            body =
                body + """
                    out=$(sql \(tx)-f "$R/"\(ShellQuote.quote(fromImage ? FilePath.lastComponent(of: f.path) : f.path)) -c \(ShellQuote.quote(record)) 2>&1) || fail \(ScriptExit.migrationFailed) "migration \(f.label) failed: $(short "$out" 600)"
                    echo "applied=\(f.label)"

                    """
        }
        return script(.migrate, [("ID", releaseID)], body + "true")
    }
}
