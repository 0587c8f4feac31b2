import Foundation
import ShipitCore
import TestSupport
import Testing

/// `shipit init` and `shipit check`, run as a new user runs them: the binary, an empty directory,
/// the real sshd test hosts.
@Suite("shipit init and check")
struct InitAndCheckTests {
    let hosts = TestHosts.current
    let shipit = ShipitBinary()

    private func emptyDir() -> String { Local.tempDir("init") }

    private func sh(_ host: String, _ command: String) async throws -> String {
        let s = try await hosts.connect(to: host)
        let out = try await s.exec(command).stdoutText
        await s.close()
        return out
    }

    @Test func initWritesAConfigThatADryRunValidates() async throws {
        let dir = emptyDir()
        let r = try await shipit.run(["init", "--hosts", "a,b", "--deploy-to", "/srv/app"], cwd: dir)
        #expect(r.status == 0, "\(r.stderr)")
        for f in ["shipit.yml", "hooks/pre-flight.example", "hooks/post-deploy.example", "hooks/on-rollback.example"] {
            #expect(FileManager.default.fileExists(atPath: dir + "/" + f), "\(f) written")
        }
        #expect(r.stdout.contains("shipit check"))
        let config = try DeployConfig.load(file: dir + "/shipit.yml")
        #expect(config.hosts == ["a", "b"])
        #expect(config.deployTo == "/srv/app")
        #expect(config.strategy == .symlink)

        let plan = try await shipit.run(["deploy", "--dry-run"], cwd: dir)
        #expect(plan.status == 0, "\(plan.stderr)")
        #expect(plan.stdout.contains("## a") && plan.stdout.contains("## b"))
        #expect(plan.stdout.contains("D='/srv/app'"))

        // Never overwrites; --force does.
        let before = try String(contentsOfFile: dir + "/shipit.yml", encoding: .utf8)
        let again = try await shipit.run(["init", "--hosts", "c", "--deploy-to", "/srv/other"], cwd: dir)
        #expect(again.status == 2)
        #expect(again.stderr.contains("already exist") && again.stderr.contains("--force"))
        #expect(try String(contentsOfFile: dir + "/shipit.yml", encoding: .utf8) == before)
        let forced = try await shipit.run(["init", "--hosts", "c", "--deploy-to", "/srv/other", "--force"], cwd: dir)
        #expect(forced.status == 0)
        #expect(try DeployConfig.load(file: dir + "/shipit.yml").hosts == ["c"])
    }

    /// The local ledger (.shipit/) must never be committed: init ignores it in the project's
    /// .gitignore, creating it when missing, adding to it otherwise, never twice.
    @Test func initKeepsTheLedgerOutOfGit() async throws {
        let fresh = emptyDir()
        let r = try await shipit.run(["init", "--hosts", "a", "--deploy-to", "/srv/app"], cwd: fresh)
        #expect(r.status == 0, "\(r.stderr)")
        let written = try String(contentsOfFile: fresh + "/.gitignore", encoding: .utf8)
        #expect(written.split(separator: "\n").filter { $0 == ".shipit/" }.count == 1, "\(written)")
        #expect(r.stdout.contains("wrote .gitignore"))
        // git itself agrees: the ledger's directory is ignored.
        _ = try await Local.run(["git", "-C", fresh, "init", "-q"])
        try FileManager.default.createDirectory(atPath: fresh + "/.shipit", withIntermediateDirectories: true)
        FileManager.default.createFile(atPath: fresh + "/.shipit/ledger.sqlite", contents: Data("x".utf8))
        #expect(
            try await Local.run(["git", "-C", fresh, "check-ignore", ".shipit/ledger.sqlite"]).contains(
                ".shipit/ledger.sqlite"))
        // Again (--force): not added twice.
        _ = try await shipit.run(["init", "--hosts", "a", "--deploy-to", "/srv/app", "--force"], cwd: fresh)
        #expect(try String(contentsOfFile: fresh + "/.gitignore", encoding: .utf8) == written)

        // An existing .gitignore without a final newline keeps its lines and gets ours after them.
        let existing = emptyDir()
        try "node_modules/\n*.log".write(toFile: existing + "/.gitignore", atomically: true, encoding: .utf8)
        _ = try await shipit.run(["init", "--hosts", "a", "--deploy-to", "/srv/app"], cwd: existing)
        let updated = try String(contentsOfFile: existing + "/.gitignore", encoding: .utf8)
        #expect(updated.hasPrefix("node_modules/\n*.log\n"))
        #expect(updated.split(separator: "\n").contains(".shipit/"))
        // One that already ignores it (as /.shipit) is left alone.
        let already = emptyDir()
        try "/.shipit\n".write(toFile: already + "/.gitignore", atomically: true, encoding: .utf8)
        _ = try await shipit.run(["init", "--hosts", "a", "--deploy-to", "/srv/app"], cwd: already)
        #expect(try String(contentsOfFile: already + "/.gitignore", encoding: .utf8) == "/.shipit\n")
    }

    @Test func initImageStrategyValidatesToo() async throws {
        let dir = emptyDir()
        let r = try await shipit.run(
            ["init", "--strategy", "image", "--hosts", "web-1", "--app", "shop", "--image", "registry.local/shop"],
            cwd: dir)
        #expect(r.status == 0, "\(r.stderr)")
        let config = try DeployConfig.load(file: dir + "/shipit.yml")
        #expect(config.strategy == .image)
        #expect(config.image?.name == "registry.local/shop")
        #expect(config.deployTo == "/srv/shop")
        let plan = try await shipit.run(["deploy", "--dry-run"], cwd: dir)
        #expect(plan.status == 0, "\(plan.stderr)")
        #expect(plan.stdout.contains("registry.local/shop:<tag>"))
    }

    @Test func initRefusesBadInputNamingTheFlagAndWritesNothing() async throws {
        for (args, flag) in [
            (["--deploy-to", "/srv/../etc"], "--deploy-to"), (["--hosts", "a;rm -rf /"], "--hosts"),
            (["--app", "../x"], "--app"), (["--strategy", "ftp"], "--strategy"), (["--user", "$(id)"], "--user"),
        ] {
            let dir = emptyDir()
            let r = try await shipit.run(["init"] + args, cwd: dir)
            #expect(r.status == 2, "\(args)")
            #expect(r.stderr.contains(flag), "\(args): \(r.stderr)")
            #expect(try FileManager.default.contentsOfDirectory(atPath: dir).isEmpty, "\(args): nothing written")
        }
    }

    /// A config from `init`, pointed at the test hosts with the connection flags an operator adds.
    private func project(deployTo: String) async throws -> (dir: String, flags: [String]) {
        let dir = emptyDir()
        let r = try await shipit.run(
            ["init", "--hosts", hosts.hosts.joined(separator: ","), "--deploy-to", deployTo, "--user", hosts.user],
            cwd: dir)
        #expect(r.status == 0, "\(r.stderr)")
        return (dir, ["--identity", hosts.identity, "--known-hosts", hosts.knownHosts])
    }

    @Test func checkPassesOnTheTestHostsAndChangesNothingUnlessFix() async throws {
        let deployTo = "/srv/check-\(UUID().uuidString.prefix(8).lowercased())"
        let (dir, flags) = try await project(deployTo: deployTo)
        try await withCleanup({ for h in hosts.hosts { _ = try? await sh(h, "rm -rf \(deployTo)") } }) {
            let r = try await shipit.run(["check"] + flags, cwd: dir)
            #expect(r.status == 0, "\(r.stdout)\(r.stderr)")
            #expect(r.stdout.contains("ready to deploy"))
            for h in hosts.hosts {
                #expect(r.stdout.contains("\(h)  ssh"))
                #expect(
                    try await sh(h, "test -e \(deployTo) && echo exists || echo absent") == "absent\n",
                    "check alone created nothing on \(h)")
            }
            #expect(r.stdout.contains("does not exist yet"))
            #expect(r.stdout.contains("tar gzip sha256sum"))

            let fixed = try await shipit.run(["check", "--fix"] + flags, cwd: dir)
            #expect(fixed.status == 0, "\(fixed.stdout)\(fixed.stderr)")
            #expect(fixed.stdout.contains("created \(deployTo)"))
            for h in hosts.hosts {
                #expect(
                    try await sh(h, "test -d \(deployTo)/releases && test -d \(deployTo)/shared && echo ok") == "ok\n")
            }
            let json = try await shipit.run(["check", "--json"] + flags, cwd: dir)
            #expect(json.status == 0)
            let report = try ShipitBinary.decode(CheckReport.self, json.stdout)
            #expect(report.hosts.count == hosts.hosts.count)
            #expect(report.hosts.allSatisfy { $0.items.first { $0.check == "deploy_to" }?.status == .ok })
        }
    }

    @Test func checkFailsOnAReadOnlyDeployToAndSaysWhatToDo() async throws {
        let deployTo = "/srv/ro-\(UUID().uuidString.prefix(8).lowercased())"
        let host = hosts.hosts[0]
        let (dir, flags) = try await project(deployTo: deployTo)
        try await withCleanup({ _ = try? await sh(host, "chmod 755 \(deployTo); rm -rf \(deployTo)") }) {
            _ = try await sh(host, "mkdir -p \(deployTo) && chmod 555 \(deployTo)")
            let r = try await shipit.run(["check"] + flags, cwd: dir)
            #expect(r.status == 3, "\(r.stdout)\(r.stderr)")
            #expect(r.stdout.contains("\(deployTo) is not writable by \(hosts.user)"))
            #expect(r.stdout.contains("sudo chown -R \(hosts.user) \(deployTo)"))
            #expect(r.stdout.contains("NOT READY: 1 of \(hosts.hosts.count)"))
            // --fix does not touch permissions: still failing, still read-only.
            let fixed = try await shipit.run(["check", "--fix"] + flags, cwd: dir)
            #expect(fixed.status == 3)
            #expect(try await sh(host, "stat -c %a \(deployTo)") == "555\n")
        }
    }

    @Test func checkRefusesAChangedHostKey() async throws {
        let host = hosts.hosts[1]
        let (dir, _) = try await project(deployTo: "/srv/unused")
        // A known_hosts whose entry for the host is some other key: what a reinstalled host or a
        // man in the middle looks like.
        let keyDir = Local.tempDir("otherkey")
        _ = try LocalProcess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", keyDir + "/k"])
        let other = try String(contentsOfFile: keyDir + "/k.pub", encoding: .utf8).split(separator: " ").prefix(2)
            .joined(separator: " ")
        let knownHosts = try hosts.knownHosts(replacing: host, with: other)

        let r = try await shipit.run(["check", "--identity", hosts.identity, "--known-hosts", knownHosts], cwd: dir)
        #expect(r.status == 3, "\(r.stdout)\(r.stderr)")
        #expect(r.stdout.contains("\(host)  host key"))
        #expect(r.stdout.contains("does NOT match"))
        #expect(r.stdout.contains("ssh-keygen -R \(host)"))
        #expect(r.stdout.contains("NOT READY: 1 of \(hosts.hosts.count) host(s) failed a check: \(host)"))
    }
}

/// The path of a newcomer: `init` in an empty directory, one line of bin/start filled in, a first
/// deploy from `.`, a second that restarts in place; `.shipitignore` keeps what it names behind.
@Suite("shipit init: to a first real deploy")
struct InitToFirstDeployTests {
    let hosts = TestHosts.current
    let shipit = ShipitBinary()

    @Test func initThenOneLineThenDeploy() async throws {
        let host = hosts.hosts[1]
        let deployTo = "/srv/init-\(UUID().uuidString.prefix(8).lowercased())"
        let port = DeployFixture.peekPort()
        let dir = Local.tempDir("init")
        let flags = ["--identity", hosts.identity, "--known-hosts", hosts.knownHosts]
        let r = try await shipit.run(
            ["init", "--hosts", host, "--deploy-to", deployTo, "--user", hosts.user, "--port", String(port)], cwd: dir)
        #expect(r.status == 0, "\(r.stderr)")
        for f in ["bin/start", "bin/stop", ".shipitignore", "hooks/pre-switch.example", "hooks/post-switch.example"] {
            #expect(FileManager.default.fileExists(atPath: dir + "/" + f), "\(f) written")
        }
        // The one line: the app's command. The app: a static site with the two health paths.
        let start = try String(contentsOfFile: dir + "/bin/start", encoding: .utf8)
        #expect(start.contains("APP_CMD=''"))
        try start.replacingOccurrences(
            of: "APP_CMD=''", with: #"APP_CMD='python3 -m http.server "$PORT" --bind "$SHIPIT_BIND"'"#
        )
        .write(toFile: dir + "/bin/start", atomically: true, encoding: .utf8)
        try FileManager.default.createDirectory(atPath: dir + "/health", withIntermediateDirectories: true)
        try "live\n".write(toFile: dir + "/health/live", atomically: true, encoding: .utf8)
        try "ready v1\n".write(toFile: dir + "/health/ready", atomically: true, encoding: .utf8)
        try "SECRET=do-not-ship\n".write(toFile: dir + "/.env", atomically: true, encoding: .utf8)
        try "noise\n".write(toFile: dir + "/debug.log", atomically: true, encoding: .utf8)

        func sh(_ command: String) async throws -> String {
            let s = try await hosts.connect(to: host)
            let out = try await s.exec(command).stdoutText
            await s.close()
            return out
        }
        func ready() async -> String {
            (try? await Local.run(["curl", "-s", "--max-time", "3", "http://\(host):\(port)/health/ready"])) ?? ""
        }
        try await withCleanup({
            _ = try? await sh(
                "cd \(deployTo)/current 2>/dev/null && SHIPIT_DEPLOY_TO=\(deployTo) sh bin/stop; rm -rf \(deployTo)")
        }) {
            // docs/getting-started.md, section 5: check, then the dry run.
            let check = try await shipit.run(["check", "--fix"] + flags, cwd: dir)
            #expect(check.status == 0, "\(check.stdout)\(check.stderr)")
            let dry = try await shipit.run(["deploy", "--dry-run", "--from", "."] + flags, cwd: dir)
            #expect(dry.status == 0 && dry.stdout.contains("from the deployer"), "\(dry.stdout)\(dry.stderr)")
            let first = try await shipit.run(["deploy", "--from", "."] + flags, cwd: dir)
            #expect(first.status == 0, "\(first.stdout)\(first.stderr)")
            #expect(await ready() == "ready v1\n")
            let shipped = try await sh("cd \(deployTo)/current && ls -A . bin health")
            #expect(shipped.contains("start") && shipped.contains("live"), "\(shipped)")
            let names = Set(shipped.split(separator: "\n").map(String.init))
            for gone in [".env", "debug.log", "shipit.yml", "hooks", ".shipit"] {
                #expect(!names.contains(gone), "\(gone) shipped: \(shipped)")
            }

            // A second release restarts in place: bin/start stops the first.
            try "ready v2\n".write(toFile: dir + "/health/ready", atomically: true, encoding: .utf8)
            let second = try await shipit.run(["deploy", "--from", "."] + flags, cwd: dir)
            #expect(second.status == 0, "\(second.stdout)\(second.stderr)")
            #expect(await ready() == "ready v2\n")
            let servers = try await sh("pgrep -u \(hosts.user) -f '[h]ttp.server \(port)' | wc -l")
            #expect(servers.trimmingCharacters(in: .whitespacesAndNewlines) == "1", "one server left: \(servers)")
            // Section 6: look, then roll back.
            let status = try await shipit.run(["status"] + flags, cwd: dir)
            #expect(status.status == 0, "\(status.stdout)\(status.stderr)")
            let logs = try await shipit.run(["logs", "--since", "10m"] + flags, cwd: dir)
            #expect(logs.status == 0 && logs.stdout.contains("GET /health/ready"), "\(logs.stdout)\(logs.stderr)")
            let back = try await shipit.run(["rollback"] + flags, cwd: dir)
            #expect(back.status == 0, "\(back.stdout)\(back.stderr)")
            #expect(await ready() == "ready v1\n")
            let changes = try await shipit.run(["changes", "--since", "1d"], cwd: dir)
            #expect(changes.status == 0 && changes.stdout.contains("rollback"), "\(changes.stdout)\(changes.stderr)")
        }
    }
}
