import Foundation
import ShipitCore
import Testing
import TestSupport

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
        #expect(plan.stdout.contains("D=/srv/app"))

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

    @Test func initImageStrategyValidatesToo() async throws {
        let dir = emptyDir()
        let r = try await shipit.run(["init", "--strategy", "image", "--hosts", "web-1", "--app", "shop", "--image", "registry.local/shop"], cwd: dir)
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
        for (args, flag) in [(["--deploy-to", "/srv/../etc"], "--deploy-to"), (["--hosts", "a;rm -rf /"], "--hosts"),
                             (["--app", "../x"], "--app"), (["--strategy", "ftp"], "--strategy"), (["--user", "$(id)"], "--user")] {
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
        let r = try await shipit.run(["init", "--hosts", hosts.hosts.joined(separator: ","), "--deploy-to", deployTo, "--user", hosts.user], cwd: dir)
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
                #expect(try await sh(h, "test -e \(deployTo) && echo exists || echo absent") == "absent\n", "check alone created nothing on \(h)")
            }
            #expect(r.stdout.contains("does not exist yet"))
            #expect(r.stdout.contains("tar gzip sha256sum"))

            let fixed = try await shipit.run(["check", "--fix"] + flags, cwd: dir)
            #expect(fixed.status == 0, "\(fixed.stdout)\(fixed.stderr)")
            #expect(fixed.stdout.contains("created \(deployTo)"))
            for h in hosts.hosts {
                #expect(try await sh(h, "test -d \(deployTo)/releases && test -d \(deployTo)/shared && echo ok") == "ok\n")
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
        let other = try String(contentsOfFile: keyDir + "/k.pub", encoding: .utf8).split(separator: " ").prefix(2).joined(separator: " ")
        let knownHosts = try hosts.knownHosts(replacing: host, with: other)

        let r = try await shipit.run(["check", "--identity", hosts.identity, "--known-hosts", knownHosts], cwd: dir)
        #expect(r.status == 3, "\(r.stdout)\(r.stderr)")
        #expect(r.stdout.contains("\(host)  host key"))
        #expect(r.stdout.contains("does NOT match"))
        #expect(r.stdout.contains("ssh-keygen -R \(host)"))
        #expect(r.stdout.contains("NOT READY: 1 of \(hosts.hosts.count) host(s) failed a check: \(host)"))
    }
}
