import Foundation
import ShipitCore
import TestSupport
import Testing

/// `env:` and `secrets:` on the real test hosts, with real secret stores: a GnuPG password store
/// (`pass`, with a throwaway key) and an `age`-encrypted file. The app sees the values; no output,
/// record or file of shipit's holds them; a changed secret is a new release, and a rollback brings
/// the old value back.
@Suite("secrets and config as part of the release", .serialized)
struct SecretsTests {
    /// A password store and an age identity of the test's own, and the secret commands reading them.
    struct Stores {
        let dir: String
        let gnupg: String
        let store: String

        init() throws {
            // gpg-agent's socket path must stay short: a directory directly under /tmp.
            dir = "/tmp/sv-" + String(UUID().uuidString.prefix(6)).lowercased()
            gnupg = dir + "/g"
            store = dir + "/p"
            try FileManager.default.createDirectory(
                atPath: gnupg, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        }

        var env: [String: String] { ["GNUPGHOME": gnupg, "PASSWORD_STORE_DIR": store] }

        func setUp() async throws {
            _ = try await Local.run(
                [
                    "gpg", "--batch", "--passphrase", "", "--quick-gen-key", "shipit-test <secrets@example.invalid>",
                    "default", "default", "never",
                ], environment: ProcessInfo.processInfo.environment.merging(env) { $1 })
            _ = try await Local.run(
                ["pass", "init", "secrets@example.invalid"],
                environment: ProcessInfo.processInfo.environment.merging(env) { $1 })
            _ = try await Local.run(["age-keygen", "-o", dir + "/age.key"])
            // A secret with a name and a value no pattern recognises: only masking by value hides it.
            try await setPass("app/word", Self.word)
        }

        static let word = "zebra-quartz-\(UUID().uuidString.prefix(8).lowercased())"

        /// `pass insert` of `value` (replacing).
        func setPass(_ name: String, _ value: String) async throws {
            _ = try await Local.run(
                ["sh", "-c", "printf '%s\\n' \"$1\" | pass insert -m -f \"$2\" >/dev/null", "sh", value, name],
                environment: ProcessInfo.processInfo.environment.merging(env) { $1 })
        }

        /// `value` encrypted to the test's age identity, in `file`.
        func setAge(_ file: String, _ value: String) async throws {
            let recipient = try await Local.run(["age-keygen", "-y", dir + "/age.key"]).trimmingCharacters(
                in: .whitespacesAndNewlines)
            _ = try await Local.run([
                "sh", "-c", "printf '%s' \"$1\" | age -r \"$2\" -o \"$3\"", "sh", value, recipient, dir + "/" + file,
            ])
        }

        func passCommand(_ name: String) -> String {
            "GNUPGHOME=\(gnupg) PASSWORD_STORE_DIR=\(store) pass show \(name)"
        }

        func ageCommand(_ file: String) -> String { "age -d -i \(dir)/age.key \(dir)/\(file)" }

        func remove() { try? FileManager.default.removeItem(atPath: dir) }
    }

    static func yaml(_ s: Stores, traffic: Bool = false) -> String {
        """
        env: {LOG_LEVEL: info, FEATURE_X: "on"}
        secrets:
          DATABASE_URL: {command: "\(s.passCommand("app/database_url"))"}
          API_TOKEN: {command: "\(s.ageCommand("token.age"))"}
          FROM_CI: {env: SHIPIT_TEST_CI_SECRET}
          PLAIN_WORD: {command: "\(s.passCommand("app/word"))"}
        \(traffic ? "traffic: {proxy: nginx, drain: 1}" : "")
        """
    }

    /// A fixture whose config reads the test's own stores (set up), removed afterwards.
    func withStores(traffic: Bool = false, _ body: (Stores, DeployFixture) async throws -> Void) async throws {
        let s = try Stores()
        let f = try DeployFixture(extraYAML: Self.yaml(s, traffic: traffic))
        try await withCleanup({
            await f.cleanUp()
            s.remove()
        }) {
            try await s.setUp()
            try await body(s, f)
        }
    }

    /// Whether the app serving on `host` has `name=value` in its environment (the value is in the
    /// test's command only; the answer is a count).
    func appHas(_ f: DeployFixture, _ host: String, _ name: String, _ value: String) async throws -> Bool {
        let pids = "$(cat \(f.deployTo)/shared/app.pid \(f.deployTo)/.shipit/slots/*.pid 2>/dev/null)"
        let out = try await f.sh(
            host,
            "n=0; for p in \(pids); do tr '\\0' '\\n' < /proc/$p/environ 2>/dev/null | grep -qxF \(ShellQuote.quote("\(name)=\(value)")) && n=$((n + 1)); done; echo $n"
        )
        return (Int(out.trimmingCharacters(in: .whitespacesAndNewlines)) ?? 0) > 0
    }

    func ledgerBytes(_ f: DeployFixture) throws -> String {
        let dir = f.dir + "/.shipit"
        var all = ""
        for name in (try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? [] {
            if let d = FileManager.default.contents(atPath: dir + "/" + name) {
                all += String(decoding: d, as: UTF8.self)
            }
        }
        return all
    }

    @Test func secretsFromPassAgeAndTheEnvironmentReachTheAppAndNothingElse() async throws {
        try await withStores(traffic: false) { s, f in
            let db = "postgres://app:pw-\(UUID().uuidString.prefix(8))@db.internal/app"
            let token = "tok-\(UUID().uuidString)"
            let ci = "ci-secret-\(UUID().uuidString.prefix(12))"
            try await s.setPass("app/database_url", db)
            try await s.setAge("token.age", token)
            let summary = f.dir + "/summary.md"
            let env = ProcessInfo.processInfo.environment.merging([
                "SHIPIT_TEST_CI_SECRET": ci, "GITHUB_ACTIONS": "true", "GITHUB_STEP_SUMMARY": summary,
                "GITHUB_OUTPUT": f.dir + "/output",
            ]) { $1 }
            let bin = ShipitBinary(hosts: f.hosts)
            let deploy = try await bin.run(
                config: f.configFile, ["deploy", "--from", f.release("v1")], environment: env)
            #expect(deploy.status == 0, "\(deploy.stdout)\(deploy.stderr)")
            let id = try await f.currentRelease(f.targets[0])
            var seen = deploy.stdout + deploy.stderr
            for h in f.targets {
                #expect(try await appHas(f, h, "DATABASE_URL", db), "\(h)")
                #expect(try await appHas(f, h, "API_TOKEN", token), "\(h)")
                #expect(try await appHas(f, h, "FROM_CI", ci), "\(h)")
                #expect(try await appHas(f, h, "LOG_LEVEL", "info"), "\(h)")
                let mode = try await f.sh(
                    h, "stat -c '%a %U' \(f.deployTo)/.shipit/env/\(id) \(f.deployTo)/.shipit/env")
                #expect(mode == "600 \(f.hosts.user)\n700 \(f.hosts.user)\n", "\(h): \(mode)")
                // Outside the release: verify checks the code only.
                #expect(
                    try await f.sh(h, "grep -rlF \(ShellQuote.quote(token)) \(f.deployTo)/releases | wc -l") == "0\n")
                seen += try await f.sh(h, "cat \(f.deployTo)/.shipit/history.jsonl \(f.deployTo)/.shipit/start.log")
            }
            // What an operator runs afterwards, each with --json where it has one.
            let exec = try await bin.run(
                config: f.configFile,
                [
                    "exec", "--release", "current", "--", "sh", "-c",
                    "echo \"db=$DATABASE_URL token=$API_TOKEN word=$PLAIN_WORD\"",
                ],
                environment: env)
            #expect(exec.status == 0, "\(exec.stderr)")
            #expect(
                exec.stdout.contains("db=***") && exec.stdout.contains("token=***") && exec.stdout.contains("word=***"),
                "\(exec.stdout)")
            // On a terminal (`exec -t`, through util-linux `script`): the bytes go out as they come,
            // but not the secrets' values, even split between the pieces the terminal sends.
            let line = [
                bin.path, "exec", "-t", "--host", f.targets[0], "--config", f.configFile, "--release", "current", "--",
                "sh", "-c",
                "echo \"db=$DATABASE_URL\"; t=$API_TOKEN; h=${t%????????}; printf 'token=%s' \"$h\"; printf '%s\\n' \"${t#\"$h\"}\"",
            ].map(ShellQuote.quote).joined(separator: " ")
            let (ttyStatus, tty) = try await LocalProcess.runStatusDetached(
                ["sh", "-c", "script -qec \(ShellQuote.quote(line)) /dev/null < /dev/null"], env: env)
            #expect(ttyStatus == 0, "\(tty)")
            #expect(tty.contains("db=***") && tty.contains("token=***"), "\(tty)")
            seen += tty
            for args in [
                ["exec", "--json", "--", "sh", "-c", "printf '%s\\n' \"$(cat \(f.deployTo)/.shipit/env/\(id))\""],
                ["logs", "--since", "1h"], ["triage"], ["triage", "--json"], ["changes"], ["changes", "--json"],
                ["status", "--json"],
            ] {
                let r = try await bin.run(config: f.configFile, args, environment: env)
                seen += r.stdout + r.stderr
            }
            seen += (try? String(contentsOfFile: summary, encoding: .utf8)) ?? ""
            seen += try ledgerBytes(f)
            for (name, value) in [
                ("DATABASE_URL", db), ("API_TOKEN", token), ("FROM_CI", ci), ("PLAIN_WORD", Stores.word),
            ] {
                #expect(!seen.contains(value), "\(name) leaked")
                #expect(!seen.contains(SecretValuesForTest.urlEncoded(value)), "\(name) leaked URL-encoded")
            }
            // The ledger records which secrets the release had, by keyed fingerprint.
            #expect(FileManager.default.fileExists(atPath: f.dir + "/.shipit/ledger.sqlite.key"))
        }
    }

    @Test func aChangedSecretIsANewReleaseTheAppSeesAndRollbackBringsTheOldValueBack() async throws {
        try await withStores(traffic: false) { s, f in
            try await s.setAge("token.age", "token-one-\(UUID().uuidString)")
            let env = ProcessInfo.processInfo.environment.merging(["SHIPIT_TEST_CI_SECRET": "ci-value-1234"]) { $1 }
            let bin = ShipitBinary(hosts: f.hosts)
            let old = "postgres://app:old-\(UUID().uuidString.prefix(8))@db/app"
            let new = "postgres://app:new-\(UUID().uuidString.prefix(8))@db/app"
            try await s.setPass("app/database_url", old)
            let first = try await bin.run(
                config: f.configFile, ["deploy", "--from", f.release("v1")], environment: env)
            #expect(first.status == 0, "\(first.stdout)\(first.stderr)")
            let firstID = try await f.currentRelease(f.targets[0])

            // Rotated at the source; the same directory deployed again.
            try await s.setPass("app/database_url", new)
            let second = try await bin.run(
                config: f.configFile, ["deploy", "--from", f.release("v1")], environment: env)
            #expect(second.status == 0, "\(second.stdout)\(second.stderr)")
            let secondID = try await f.currentRelease(f.targets[0])
            #expect(secondID != firstID)
            for h in f.targets { #expect(try await appHas(f, h, "DATABASE_URL", new), "\(h)") }
            let changes = try await bin.run(config: f.configFile, ["changes"], environment: env)
            #expect(changes.stdout.contains("config: secret DATABASE_URL changed"), "\(changes.stdout)")
            #expect(changes.stdout.contains("config-only release"), "\(changes.stdout)")
            #expect(!changes.stdout.contains("API_TOKEN changed"), "\(changes.stdout)")
            #expect(!changes.stdout.contains(new) && !changes.stdout.contains(old))

            // The CI summary of the rollback: it resolved no secret, yet it brought the old value
            // back (the release's own), which is a change, and no secret was added or removed.
            let summary = f.dir + "/rollback-summary.md"
            let ciEnv = env.merging(["GITHUB_ACTIONS": "true", "GITHUB_STEP_SUMMARY": summary]) { $1 }
            let back = try await bin.run(config: f.configFile, ["rollback"], environment: ciEnv)
            #expect(back.status == 0, "\(back.stdout)\(back.stderr)")
            let md = (try? String(contentsOfFile: summary, encoding: .utf8)) ?? ""
            #expect(
                md.contains("secret DATABASE_URL changed") && !md.contains("added") && !md.contains("removed"),
                "\(md)")
            for h in f.targets {
                #expect(try await f.currentRelease(h) == firstID)
                #expect(try await appHas(f, h, "DATABASE_URL", old), "\(h)")
            }
        }
    }

    @Test func aSecretThatCannotBeResolvedStopsTheDeployBeforeAnyHostNamingIt() async throws {
        try await withStores(traffic: false) { s, f in
            // app/database_url was never inserted: `pass show` fails.
            try await s.setAge("token.age", "some-token-value")
            let env = ProcessInfo.processInfo.environment.merging(["SHIPIT_TEST_CI_SECRET": "ci-value-1234"]) { $1 }
            let r = try await ShipitBinary(hosts: f.hosts).run(
                config: f.configFile, ["deploy", "--from", f.release("v1")], environment: env)
            #expect(r.status == ShipitExit.usage.rawValue, "\(r.stdout)\(r.stderr)")
            #expect(r.stderr.contains("secrets.DATABASE_URL (command)"), "\(r.stderr)")
            #expect(!r.stderr.contains("some-token-value"))
            for h in f.targets {
                #expect(try await f.sh(h, "test -e \(f.deployTo) && echo touched || echo untouched") == "untouched\n")
            }
            // An unset environment source: named too.
            var env2 = env
            env2["SHIPIT_TEST_CI_SECRET"] = nil
            try await s.setPass("app/database_url", "postgres://x:y@z/db")
            let r2 = try await ShipitBinary(hosts: f.hosts).run(
                config: f.configFile, ["deploy", "--from", f.release("v1")], environment: env2)
            #expect(r2.status == ShipitExit.usage.rawValue)
            #expect(r2.stderr.contains("secrets.FROM_CI (env): SHIPIT_TEST_CI_SECRET is not set"), "\(r2.stderr)")
        }
    }

    /// Text from a host that holds a secret: the start command's output (kept in the ledger's
    /// step record) and a role's failing status (the host's error, in the output, the ledger and
    /// a webhook's body) show it masked.
    @Test func aSecretInAFailureIsMaskedInTheOutputTheLedgerAndAWebhook() async throws {
        let s = try Stores()
        let hook = try WebhookReceiver.start(secret: "hook-key-1234")
        let hosts = TestHosts.current
        let f = try DeployFixture(
            extraYAML: Self.yaml(s) + """

                notify:
                  - {url: "http://127.0.0.1:\(hook.port)/h", secret_env: SHIPIT_TEST_HOOK_KEY}
                roles:
                  leaky:
                    cmd: sleep 600
                    status: echo "status says word=$PLAIN_WORD"; exit 1
                    stop_timeout: 1
                """, roles: [hosts.hosts[0]: ["web", "leaky"]])
        try await withCleanup({
            hook.process.stopIfRunning()
            await f.cleanUp()
            s.remove()
        }) {
            try await WebhookReceiver.waitListening(hook.port)
            try await s.setUp()
            let token = "tok-\(UUID().uuidString.prefix(12))"
            try await s.setAge("token.age", token)
            try await s.setPass("app/database_url", "postgres://u:pw-\(UUID().uuidString.prefix(6))@db/app")
            let broken = Local.tempDir("leaky")
            try await Local.run(["cp", "-a", f.release("v1") + "/.", broken])
            try "echo \"cannot start: word=$PLAIN_WORD\" >&2\nexit 1\n".write(
                toFile: broken + "/start.sh", atomically: true, encoding: .utf8)
            let env = ProcessInfo.processInfo.environment.merging([
                "SHIPIT_TEST_CI_SECRET": "ci-value-1234", "SHIPIT_TEST_HOOK_KEY": "hook-key-1234",
            ]) { $1 }
            let bin = ShipitBinary(hosts: f.hosts)
            let r = try await bin.run(config: f.configFile, ["deploy", "--from", broken], environment: env)
            #expect(r.status != 0)
            #expect(try ledgerBytes(f).contains("cannot start: word=***"))
            let role = try await bin.run(config: f.configFile, ["deploy", "--from", f.release("v1")], environment: env)
            #expect(role.status != 0)
            #expect(role.stdout.contains("status says word=***"), "\(role.stdout)")
            // The receiver may write its line after it answered.
            var received = ""
            for _ in 0..<50 where !received.contains("status says") {
                received = (try? String(contentsOfFile: hook.out, encoding: .utf8)) ?? ""
                try await Task.sleep(for: .milliseconds(100))
            }
            #expect(received.contains("status says word=***"), "\(received)")
            let seen = r.stdout + r.stderr + role.stdout + role.stderr + received + (try ledgerBytes(f))
            #expect(!seen.contains(token) && !seen.contains(Stores.word))
        }
    }

    @Test func aConfigOnlyReleaseBehindTheTrafficSwitchLosesNoRequest() async throws {
        try await withStores(traffic: true) { s, f in
            try await s.setAge("token.age", "token-\(UUID().uuidString)")
            try await s.setPass("app/database_url", "postgres://a:first-\(UUID().uuidString.prefix(6))@db/app")
            let env = ProcessInfo.processInfo.environment.merging(["SHIPIT_TEST_CI_SECRET": "ci-value-1234"]) { $1 }
            let bin = ShipitBinary(hosts: f.hosts)
            let v1 = try await bin.run(config: f.configFile, ["deploy", "--from", f.release("v1")], environment: env)
            #expect(v1.status == 0, "\(v1.stdout)\(v1.stderr)")
            let load = try LoadGenerator(targets: f.targets, port: f.port)
            let rotated = "postgres://a:second-\(UUID().uuidString.prefix(6))@db/app"
            try await s.setPass("app/database_url", rotated)
            let again = try await bin.run(
                config: f.configFile, ["deploy", "--from", f.release("v1")], environment: env)
            let r = try await load.finish()
            #expect(again.status == 0, "\(again.stdout)\(again.stderr)")
            #expect(r.failed == 0, "\(r.errors)")
            #expect(r.requests > 300, "\(r)")
            for h in f.targets { #expect(try await appHas(f, h, "DATABASE_URL", rotated), "\(h)") }
        }
    }
}

/// The URL-encoded form of a value, as a leak in a URL would show it (RFC 3986 unreserved kept).
enum SecretValuesForTest {
    static func urlEncoded(_ s: String) -> String {
        s.addingPercentEncoding(
            withAllowedCharacters: CharacterSet(
                charactersIn: "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~")) ?? s
    }
}
