import Foundation
import ShipitCore
import TestSupport
import Testing

/// `env:` and `secrets:`: parsing (errors name the field), resolution on the deployer (errors name
/// the secret, never a value), the env file read back by a real shell, fingerprints, masking, and
/// how `changes` tells of them.
@Suite("release environment: env and secrets")
struct ReleaseEnvTests {
    static let base = """
        app: web
        hosts: [127.0.0.11]
        deploy_to: /srv/web
        start: sh start.sh

        """

    func parse(_ extra: String) throws -> DeployConfig {
        try DeployConfig.parse(yaml: Self.base + extra, directory: "/tmp")
    }

    func error(_ extra: String) -> String {
        do {
            _ = try parse(extra)
            return ""
        } catch { return "\(error)" }
    }

    @Test func parsesEnvAndEachKindOfSource() throws {
        let c = try parse(
            """
            env: {LOG_LEVEL: info, B: "2"}
            secrets:
              DATABASE_URL: {command: "pass show app/db", timeout: 5}
              TOKEN: {env: CI_TOKEN}
              KEY: {file: keys/tls.key}
            """)
        #expect(c.releaseEnv.env.map(\.name) == ["B", "LOG_LEVEL"])
        #expect(c.releaseEnv.secrets.map(\.name) == ["DATABASE_URL", "KEY", "TOKEN"])
        #expect(c.releaseEnv.secrets[0].source == .command("pass show app/db") && c.releaseEnv.secrets[0].timeout == 5)
        #expect(c.releaseEnv.secrets[1].source == .file("/tmp/keys/tls.key"))
        #expect(c.releaseEnv.secrets[2].source == .environment("CI_TOKEN"))
    }

    @Test(arguments: [
        ("env: {1BAD: x}", "env.1BAD"),
        ("env: {PORT: '80'}", "set by shipit"),
        ("env: {SHIPIT_RELEASE: x}", "set by shipit"),
        ("secrets: {A: {command: x, env: Y}}", "secrets.A: needs exactly one source"),
        ("secrets: {A: {}}", "secrets.A: needs exactly one source"),
        ("secrets: {A: {vault: x}}", "secrets.A.vault: unknown key"),
        ("secrets: {A: {env: 'NOT A NAME'}}", "secrets.A.env"),
        ("secrets: {A: {file: x, timeout: 3}}", "'timeout' is for a command source"),
        ("secrets: {A: {command: ''}}", "secrets.A.command: is empty"),
        ("env: {A: x}\nsecrets: {A: {env: B}}", "A is in both env and secrets"),
        ("migrations: {dir: db}", "DATABASE_URL in 'secrets' or 'env'"),
    ])
    func badInputIsRefusedNamingTheField(_ yaml: String, _ expected: String) {
        let e = error(yaml)
        #expect(e.contains(expected), "\(e)")
    }

    /// A stage overlay replaces a secret's source whole (another kind of source, not two), and
    /// merges env values key by key.
    @Test func aStageOverlayReplacesASecretsSource() throws {
        let dir = Local.tempDir("overlay")
        try (Self.base + "env: {A: base, B: base}\nsecrets: {DB: {command: pass show db}, K: {env: K}}\n").write(
            toFile: dir + "/shipit.yml", atomically: true, encoding: .utf8)
        try "env: {B: staging}\nsecrets: {DB: {env: STAGING_DB}}\n".write(
            toFile: dir + "/shipit.staging.yml", atomically: true, encoding: .utf8)
        let c = try DeployConfig.load(file: dir + "/shipit.yml", stage: "staging")
        #expect(c.releaseEnv.env.map { "\($0.name)=\($0.value)" } == ["A=base", "B=staging"])
        #expect(c.releaseEnv.secrets.map(\.source) == [.environment("STAGING_DB"), .environment("K")])
    }

    @Test func migrationsWithoutAnEnvFileUseTheReleasesDatabaseURL() throws {
        let c = try parse("secrets: {DATABASE_URL: {env: DB}}\nmigrations: {dir: db}")
        #expect(c.migrations?.envFile == nil)
    }

    /// The dry run names the environment and where each secret comes from, and resolves nothing.
    @Test func theDryRunShowsNamesAndSourcesNeverRunningASource() throws {
        let marker = Local.tempDir("dry-secret") + "/ran"
        let c = try parse(
            """
            health: {port: 8080}
            env: {LOG_LEVEL: info}
            secrets: {DATABASE_URL: {command: "touch \(marker); echo x"}}
            """)
        let dir = Local.tempDir("dry-rel")
        try "x".write(toFile: dir + "/app", atomically: true, encoding: .utf8)
        let a = try Artifact.build(from: .directory(dir), workDir: Local.tempDir("dry-work"))
        let plan = DryRunPlan.render(c, input: .artifact(a), lockWaitSeconds: 0)
        #expect(plan.contains("LOG_LEVEL (env), DATABASE_URL (secret: command)"), "\(plan)")
        #expect(
            plan.contains(
                "# order: secrets resolved on this machine → preflight on every host → the release's environment file on every host →"
            ), "\(plan)")
        #expect(!FileManager.default.fileExists(atPath: marker))
    }

    @Test func resolvesEachKindDroppingOneTrailingNewline() async throws {
        let dir = Local.tempDir("secrets")
        try "from-a-file\n\n".write(toFile: dir + "/f", atomically: true, encoding: .utf8)
        var s = ReleaseEnvSettings()
        s.env = [.init(name: "PLAIN", value: "shown")]
        s.secrets = [
            .init(name: "CMD", source: .command("printf 'line one\\nline two\\n'; echo noise >&2"), timeout: 5),
            .init(name: "ENVV", source: .environment("SOME_VAR"), timeout: 5),
            .init(name: "FILE", source: .file(dir + "/f"), timeout: 5),
            .init(name: "REL", source: .command("cat f"), timeout: 5),
        ]
        let env = try #require(await SecretResolver.resolve(s, directory: dir, environment: ["SOME_VAR": "v a l"]))
        let values = Dictionary(uniqueKeysWithValues: env.entries.map { ($0.name, $0.value) })
        #expect(values["CMD"] == "line one\nline two")
        #expect(values["ENVV"] == "v a l")
        #expect(values["FILE"] == "from-a-file\n")
        #expect(values["REL"] == "from-a-file\n")
        #expect(values["PLAIN"] == "shown")
        #expect(env.entries.filter(\.secret).count == 4)
    }

    @Test func aFailingSourceNamesTheSecretAndItsKindNeverAValue() async throws {
        func failure(_ source: ReleaseEnvSettings.Source, timeout: Double = 5) async -> String {
            var s = ReleaseEnvSettings()
            s.secrets = [.init(name: "DB", source: source, timeout: timeout)]
            do {
                _ = try await SecretResolver.resolve(s, directory: "/tmp", environment: [:])
                return ""
            } catch { return error.message }
        }
        let failed = await failure(.command("echo s3cr3t-printed; echo 'no such entry' >&2; exit 3"))
        #expect(failed.hasPrefix("secrets.DB (command): the command exited 3: no such entry"), "\(failed)")
        #expect(!failed.contains("s3cr3t-printed"))
        #expect(await failure(.command("true")) == "secrets.DB (command): the value is empty")
        #expect(await failure(.command("sleep 5"), timeout: 0.3).contains("timed out"))
        #expect(await failure(.environment("UNSET_X")).contains("secrets.DB (env): UNSET_X is not set"))
        #expect(await failure(.file("/nonexistent/x")).contains("secrets.DB (file): cannot read /nonexistent/x"))
    }

    /// The env file is read back by a real shell with every hostile value intact, and the values
    /// never run as commands.
    @Test func aShellReadsBackHostileValuesExactly() async throws {
        let hostile = [
            "it's", "$(touch /tmp/pwned-env)", "`id`", "a\nb", "semi;colon", "back\\slash", " lead", "trail ",
            "quote\"d", "ünïcode", "*", "-n",
        ]
        let env = ReleaseEnvironment(
            hostile.enumerated().map { .init(name: "V\($0.offset)", value: $0.element, secret: $0.offset % 2 == 0) })
        let dir = Local.tempDir("envfile")
        try env.shellFile.write(toFile: dir + "/env", atomically: true, encoding: .utf8)
        for (i, v) in hostile.enumerated() {
            let out = try await Local.run([
                "sh", "-c", "set -a; . \"$1\"; set +a; printf '%s' \"$V\(i)\"", "sh", dir + "/env",
            ])
            #expect(out == v, "V\(i)")
        }
        #expect(!FileManager.default.fileExists(atPath: "/tmp/pwned-env"))
    }

    /// psql gets the database URL without its password (its arguments are in every user's process
    /// list) and the password, percent-decoded, in PGPASSWORD: run by a real shell.
    @Test(arguments: [
        (
            "postgresql://app:p%40ss%3Aw0rd%25@db.example:5432/app?sslmode=require",
            "postgresql://app@db.example:5432/app?sslmode=require", "p@ss:w0rd%"
        ),
        ("postgres://u:s3cr3t@h/db", "postgres://u@h/db", "s3cr3t"),
        ("postgres://u:pw@h?options=-csearch_path%3Dx", "postgres://u@h?options=-csearch_path%3Dx", "pw"),
        ("postgres://u@h/db", "postgres://u@h/db", ""),
        ("host=h dbname=d", "host=h dbname=d", ""),
    ])
    func theDatabasePasswordLeavesTheURLForPGPASSWORD(url: String, expectedURL: String, password: String) async throws {
        let script =
            MigrationCommands.pgURL.definition
            + "\nunset PGPASSWORD; pg_url \"$1\"; printf '%s|%s' \"$PG_URL\" \"${PGPASSWORD:-}\""
        let out = try await Local.run(
            ["sh", "-c", script, "sh", url], environment: ["PATH": "/usr/bin:/bin", "LC_ALL": "C"])
        #expect(out == "\(expectedURL)|\(password)")
    }

    @Test func aContainerEnvFileRefusesALineBreak() throws {
        let ok = ReleaseEnvironment([.init(name: "A", value: "x=y 'z'", secret: true)])
        #expect(try ok.engineFile() == "A=x=y 'z'\n")
        let bad = ReleaseEnvironment([.init(name: "KEY", value: "line\nline", secret: true)])
        #expect(throws: ShipitError.self) { try bad.engineFile() }
    }

    @Test func fingerprintsAreKeyedAndSayNothingOfTheValue() {
        let env = ReleaseEnvironment([.init(name: "DB", value: "hunter22", secret: true)])
        let k1 = Data(repeating: 1, count: 32)
        let k2 = Data(repeating: 2, count: 32)
        let f1 = env.fingerprints(key: k1)["DB"]
        #expect(f1?.hasPrefix("hmac-sha256:") == true && f1?.count == "hmac-sha256:".count + 16)
        #expect(f1 == env.fingerprints(key: k1)["DB"])
        #expect(f1 != env.fingerprints(key: k2)["DB"])
        let changed = ReleaseEnvironment([.init(name: "DB", value: "hunter23", secret: true)])
        #expect(f1 != changed.fingerprints(key: k1)["DB"])
        #expect(env.identity(key: k1) != changed.identity(key: k1) && env.identity(key: k1).count == 8)
        // The plain hash of the value is not what is recorded.
        #expect(!(f1 ?? "").contains((try? Digest.sha256Hex(Data(Array("hunter22".utf8))).prefix(16)) ?? "-"))
    }

    @Test func everyRedactorMasksAResolvedValueAndItsEncodedForms() {
        let value = "p@ss w0rd/\(UUID().uuidString.prefix(6))"
        SecretValues.register([value])
        let r = Redactor(environment: [:])
        #expect(r.redact("url=\(value)!") == "url=***!")
        let encoded = value.addingPercentEncoding(
            withAllowedCharacters: CharacterSet(
                charactersIn: "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~"))!
        #expect(r.redact("postgres://u:\(encoded)@h").contains(encoded) == false)
        #expect(r.redact(settings: ["notify.url": "x\(value)"]) == ["notify.url": "x***"])
        // As JSON text from a host shows it: Go (`podman inspect`), Python's and PHP's encoders.
        let prefix = String(UUID().uuidString.prefix(6))
        let quoted = "a\"b&c/é-" + prefix
        SecretValues.register([quoted])
        for json in [
            #"{"Env":["K=a\"b\u0026c/é-"# + prefix + #""]}"#, #"{"k": "a\"b&c/\u00e9-"# + prefix + #""}"#,
            #"{"k":"a\"b&c\/é-"# + prefix + #""}"#,
        ] {
            #expect(!r.redact(json).contains(prefix), "\(json) → \(r.redact(json))")
        }
    }

    @Test func changesNameAChangedSecretAndLabelAConfigOnlyRelease() {
        func attempt(_ id: String, _ release: String, _ hash: String, op: String = "deploy") -> LedgerAttempt {
            LedgerAttempt(
                id: id, app: "web", stage: nil, strategy: "symlink", operation: op, releaseID: release, user: "u",
                machine: "m", pid: 1, startedAt: Date(timeIntervalSince1970: Double(Int(id.suffix(1))! * 60)),
                outcome: LedgerAttempt.Outcome.succeeded, state: "succeeded", configHash: hash)
        }
        let configs: [String: [String: String]] = [
            "h1": ["secrets.DB.command": "pass show db", "secrets.DB.value": "hmac-sha256:aaaa", "env.LOG": "debug"],
            "h2": ["secrets.DB.command": "pass show db", "secrets.DB.value": "hmac-sha256:bbbb", "env.LOG": "info"],
            // A rollback resolves no secrets: it records none, which is no change.
            "h3": ["secrets.DB.command": "pass show db", "env.LOG": "info"],
        ]
        let entries = TimelineBuilder.entries(
            attempts: [
                attempt("a1", "20261206T100000Z-0badc0de", "h1"), attempt("a2", "20261206T110000Z-0badc0de", "h2"),
                attempt("a3", "20261206T110000Z-0badc0de", "h3", op: "rollback"),
                // Back to the first release: its secret comes back with it; then forward again.
                attempt("a4", "20261206T100000Z-0badc0de", "h3", op: "rollback"),
                attempt("a5", "20261206T120000Z-0badc0de", "h2"),
            ],
            configs: configs, configBefore: nil, history: [:], from: nil, to: nil, app: "web", stage: nil)
        #expect(entries[1].configChanges.contains("secret DB changed"), "\(entries[1].configChanges)")
        #expect(entries[1].configChanges.contains("env.LOG: debug → info"), "\(entries[1].configChanges)")
        #expect(!entries[1].configChanges.joined().contains("hmac-sha256"))
        #expect(entries[1].configOnly)
        #expect(!entries[0].configOnly)
        #expect(entries[2].configChanges.isEmpty, "\(entries[2].configChanges)")
        #expect(entries[3].configChanges.contains("secret DB changed"), "\(entries[3].configChanges)")
        #expect(entries[4].configChanges.contains("secret DB changed"), "\(entries[4].configChanges)")
    }
}
