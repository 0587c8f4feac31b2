import Foundation
import SSH
import ShipitCore
import TestSupport
import Testing

/// Hosts as real fleets have them: hardened sshd without SFTP (this file), jump hosts, ssh_config
/// aliases, sshd's default MaxStartups under a burst (their own suites).
@Suite("real fleets: hosts without SFTP")
struct NoSFTPTests {
    let hosts = TestHosts.current
    static let bare = "127.0.0.60"

    func withBareHost(_ body: () async throws -> Void) async throws {
        try await hosts.harness(["start-host", Self.bare], environment: ["SHIPIT_HOST_OPTS": "nosftp"])
        try await withCleanup({ _ = try? await hosts.harness(["stop-host", Self.bare], environment: [:]) }, body)
    }

    @Test func aHostWithoutTheSFTPSubsystemTakesTheArtifactOnTheExtractCommandsStdin() async throws {
        try await withBareHost {
            // The host really has no SFTP: a plain SFTP upload fails as it does for users.
            let s = try await hosts.connect(to: Self.bare)
            let file = Local.tempDir() + "/f"
            try Data("x".utf8).write(to: URL(fileURLWithPath: file))
            await #expect(throws: SSHError.self) {
                try await s.upload(localPath: file, remotePath: "/tmp/shipit-sftp-probe", method: .sftp)
            }
            #expect(await s.sftpAvailable(timeout: 5) == false)
            await s.close()
            #expect(try await hosts.connect().sftpAvailable(timeout: 5))

            let f = try DeployFixture(targets: [Self.bare, hosts.hosts[0]])
            try await withCleanup({
                await f.stopAll(on: Self.bare)
                await f.cleanUp()
            }) {
                // `shipit check` says how artifacts will travel to each host.
                let check = try await f.shipit(["check"])
                #expect(
                    check.stdout.contains(
                        "streamed on the extract script's stdin (this host's sshd offers no SFTP; none is needed)"),
                    "\(check.stdout)")
                let r = try await f.shipit(["deploy", "--from", f.release("v1")])
                #expect(r.status == 0, "\(r.stdout)\(r.stderr)")
                #expect(!r.stdout.contains("SFTP"))
                for h in f.targets { #expect(try await f.served(h).contains("v1")) }
                // Told to use SFTP, shipit finds the host has none and streams there instead.
                let config = try String(contentsOfFile: f.configFile, encoding: .utf8)
                try config.replacingOccurrences(
                    of: "  connect_timeout: 10", with: "  connect_timeout: 10\n  upload: sftp"
                )
                .write(toFile: f.configFile, atomically: true, encoding: .utf8)
                let v2 = try await f.shipit(["deploy", "--from", f.release("v2")])
                #expect(v2.status == 0, "\(v2.stdout)\(v2.stderr)")
                #expect(
                    v2.stdout.contains(
                        "\(Self.bare) upload: this host's sshd offers no SFTP: the files are streamed on the command's stdin instead"
                    ), "\(v2.stdout)")
                #expect(!v2.stdout.contains("\(hosts.hosts[0]) upload: this host's sshd offers no SFTP"))
                for h in f.targets { #expect(try await f.served(h).contains("v2")) }
                // auto with an artifact over the stream limit: SFTP where the host has it, the
                // stream where it has not.
                try config.write(toFile: f.configFile, atomically: true, encoding: .utf8)
                let big = try await f.bigRelease(
                    "v1", bytes: Int(ConnectionSettings.UploadMode.autoStreamLimit) + 500_000)
                let v3 = try await f.shipit(["deploy", "--from", big])
                #expect(v3.status == 0, "\(v3.stdout)\(v3.stderr)")
                for h in f.targets { #expect(try await f.served(h).contains("v1")) }
                // The plan says how files travel.
                let plan = try await f.shipit(["deploy", "--dry-run", "--from", f.release("v1")])
                #expect(plan.stdout.contains("streamed on its stdin (one channel, no SFTP)"), "\(plan.stdout)")
            }
        }
    }
}

/// Deploys through a bastion to hosts the deployer cannot reach (scripts/jumphosts.sh), with the
/// jump host given in shipit.yml, as a flag, or by ssh_config.
@Suite("real fleets: ProxyJump and ssh_config")
struct ProxyJumpDeployTests {
    let hosts = TestHosts.current
    static let bastion = "127.0.0.50"
    static let targets = ["127.0.0.21", "127.0.0.22", "127.0.0.23"]

    /// `shipit exec` on the targets through the bastion (exec takes no config file).
    func exec(_ command: String) async throws -> ShipitBinary.Run {
        try await ShipitBinary(hosts: hosts).run([
            "exec", "--hosts", Self.targets.joined(separator: ","), "--user", hosts.user, "--identity", hosts.identity,
            "--known-hosts", hosts.knownHosts, "--proxy-jump", "\(hosts.user)@\(Self.bastion)", "--", command,
        ])
    }

    @Test func deployAndRollbackThroughAJumpHostToHostsUnreachableDirectly() async throws {
        // Directly: nothing answers.
        let direct = try await ShipitBinary(hosts: hosts).run([
            "exec", "--hosts", Self.targets[0], "--user", hosts.user, "--identity", hosts.identity,
            "--known-hosts", hosts.knownHosts, "--connect-timeout", "2", "--", "true",
        ])
        #expect(direct.status != 0)
        let f = try DeployFixture(targets: Self.targets, sshYAML: "proxy_jump: \(hosts.user)@\(Self.bastion)")
        try await withCleanup({
            _ = try? await exec("pkill -f 'app.pl.*--port \(f.port)' || true; rm -rf \(f.deployTo)")
        }) {
            let v1 = try await f.shipit(["deploy", "--from", f.release("v1")])
            #expect(v1.status == 0, "\(v1.stdout)\(v1.stderr)")
            let v2 = try await f.shipit(["deploy", "--from", f.release("v2")])
            #expect(v2.status == 0, "\(v2.stdout)\(v2.stderr)")
            // A broken release is rolled back through the bastion as well.
            let v3 = try await f.shipit(["deploy", "--from", f.release("v3")])
            #expect(v3.status == ShipitExit.rolledBack.rawValue, "\(v3.stdout)")
            let back = try await f.shipit(["rollback"])
            #expect(back.status == 0, "\(back.stdout)\(back.stderr)")
            let verify = try await f.shipit(["verify"])
            #expect(verify.status == 0, "\(verify.stdout)")
            // Each target answers, on its own address inside the hidden network, with v1.
            let answers = try await exec(
                "curl -s --max-time 2 http://$(echo $SSH_CONNECTION | cut -d' ' -f3):\(f.port)/")
            #expect(answers.status == 0, "\(answers.stdout)\(answers.stderr)")
            #expect(
                answers.stdout.components(separatedBy: "hello from releases-example v1").count - 1 == 3,
                "\(answers.stdout)")
        }
    }

    @Test func sshConfigAliasesAndItsProxyJumpAndTheFlagOverride() async throws {
        let dir = Local.tempDir("sshcfg")
        let cfg = dir + "/ssh_config"
        try """
        # As an operator's ~/.ssh/config would have it.
        Host bastion
          HostName \(Self.bastion)
          User \(hosts.user)
        Host app-*
          ProxyJump bastion
        Host app-1
          HostName \(Self.targets[0])
        Host app-2
          HostName \(Self.targets[1])
        Host *
          User \(hosts.user)
          IdentityFile \(hosts.identity)
          UserKnownHostsFile \(hosts.knownHosts)
          ConnectTimeout 5
          SomeKeywordShipitDoesNotKnow yes
        """.write(toFile: cfg, atomically: true, encoding: .utf8)
        let bin = ShipitBinary(hosts: hosts)
        let r = try await bin.run([
            "exec", "--hosts", "app-1,app-2", "--ssh-config", cfg, "--", "echo $SSH_CONNECTION | cut -d' ' -f3",
        ])
        #expect(r.status == 0, "\(r.stdout)\(r.stderr)")
        #expect(
            r.stdout.contains("app-1 | \(Self.targets[0])") && r.stdout.contains("app-2 | \(Self.targets[1])"),
            "\(r.stdout)")
        // --proxy-jump none: ssh_config's jump ignored, so the targets are out of reach.
        let none = try await bin.run([
            "exec", "--hosts", "app-1", "--ssh-config", cfg, "--proxy-jump", "none", "--connect-timeout", "2", "--",
            "true",
        ])
        #expect(none.status != 0)
        // A deploy whose hosts are aliases, with the file named in shipit.yml.
        let f = try DeployFixture(targets: ["app-1", "app-2"], sshYAML: "config: \(cfg)")
        try await withCleanup({
            _ = try? await exec("pkill -f 'app.pl.*--port \(f.port)' || true; rm -rf \(f.deployTo)")
        }) {
            let v1 = try await f.shipit(["deploy", "--from", f.release("v1")])
            #expect(v1.status == 0, "\(v1.stdout)\(v1.stderr)")
            #expect(v1.stdout.contains("app-1 switch ok") && v1.stdout.contains("app-2 switch ok"), "\(v1.stdout)")
            let status = try await f.shipit(["status"])
            #expect(status.status == 0, "\(status.stdout)")
        }
        // A broken ssh_config is refused before any host is touched, naming the file and line.
        try "Host x\n  Port eighty\n".write(toFile: dir + "/bad", atomically: true, encoding: .utf8)
        let bad = try await bin.run(["exec", "--hosts", "x", "--ssh-config", dir + "/bad", "--", "true"])
        #expect(bad.status == ShipitExit.usage.rawValue)
        #expect(bad.stderr.contains("bad:2: Port: expected a TCP port"), "\(bad.stderr)")
    }

    @Test func aChangedBastionKeyIsRefusedForEveryHostBehindIt() async throws {
        let known = try hosts.knownHosts(replacing: Self.bastion, with: try hosts.hostKeyLine(of: hosts.hosts[0]))
        let r = try await ShipitBinary(hosts: hosts).run([
            "exec", "--hosts", Self.targets.joined(separator: ","), "--user", hosts.user,
            "--identity", hosts.identity, "--known-hosts", known,
            "--proxy-jump", Self.bastion, "--", "true",
        ])
        #expect(r.status != 0)
        let refusals =
            (r.stdout + r.stderr).components(separatedBy: "jump host \(hosts.user)@\(Self.bastion)").count - 1
        #expect(refusals >= 3, "\(r.stdout)\(r.stderr)")
        #expect(
            (r.stdout + r.stderr).lowercased().contains("mismatch") || (r.stdout + r.stderr).contains("CHANGED"),
            "\(r.stdout)\(r.stderr)")
    }
}

/// sshd's default MaxStartups (10:30:100) drops connections under a burst; shipit paces its
/// handshakes and retries the dropped ones.
@Suite("real fleets: handshake pacing under MaxStartups")
struct HandshakePacingTests {
    let hosts = TestHosts.current
    static let address = "127.0.0.61"

    @Test func aHundredTargetsBehindOneSshdWithTheDefaultMaxStartupsAllSucceed() async throws {
        try await hosts.harness(["start-host", Self.address], environment: ["SHIPIT_HOST_OPTS": "default-maxstartups"])
        try await withCleanup({ _ = try? await hosts.harness(["stop-host", Self.address], environment: [:]) }) {
            let cfg = Local.tempDir("burst") + "/ssh_config"
            try
                "Host burst-*\n  HostName \(Self.address)\n  User \(hosts.user)\n  IdentityFile \(hosts.identity)\n  UserKnownHostsFile \(hosts.knownHosts)\n"
                .write(toFile: cfg, atomically: true, encoding: .utf8)
            let log = hosts.stateDir + "/hosts/\(Self.address)/sshd.log"
            let dropsBefore =
                (try? String(contentsOfFile: log, encoding: .utf8))?.components(separatedBy: "past MaxStartups").count
                ?? 1
            let names = (1...100).map { "burst-\($0)" }
            let r = try await ShipitBinary(hosts: hosts).run([
                "exec", "--hosts", names.joined(separator: ","), "--ssh-config", cfg,
                "--parallel", "100", "--", "echo ok",
            ])
            #expect(r.status == 0, "\(r.stdout)\(r.stderr)")
            #expect(r.stdout.components(separatedBy: "| ok").count - 1 == 100)
            // sshd did drop connections of the burst: the retries are what got them through.
            let drops =
                ((try? String(contentsOfFile: log, encoding: .utf8))?.components(separatedBy: "past MaxStartups").count
                    ?? 1) - dropsBefore
            #expect(drops > 0, "sshd dropped nothing: the test did not exercise pacing")
        }
    }
}

/// How many exec channels a run opens on a host, counted from that host's sshd log (LogLevel
/// DEBUG1 logs every channel request): the deploy's artifact rides on the pre-flight's channel.
@Suite("footprint: exec channels per host")
struct ExecChannelTests {
    let hosts = TestHosts.current
    static let address = "127.0.0.62"

    @Test func aDeployOpensThreeExecChannelsPerHostAndNoSFTP() async throws {
        try await hosts.harness(["start-host", Self.address], environment: ["SHIPIT_HOST_OPTS": "debug"])
        // Generous timeouts: the v2 deploy runs traced (every system call of the host's side
        // stops for strace), on a machine the rest of the suite keeps busy.
        let f = try DeployFixture(targets: [Self.address], healthDeadline: 30, connectTimeout: 60)
        try await withCleanup({
            await f.stopAll(on: Self.address)
            _ = try? await hosts.harness(["stop-host", Self.address], environment: [:])
        }) {
            let log = hosts.stateDir + "/hosts/\(Self.address)/sshd.log"
            func count(_ what: String) throws -> Int {
                try String(contentsOfFile: log, encoding: .utf8).components(separatedBy: what).count - 1
            }
            for version in ["v1", "v2"] {
                let (execs, subsystems) = (try count("req exec"), try count("req subsystem"))
                // v2: every program the host starts for it, traced from its sshd.
                let trace =
                    version == "v2"
                    ? try await ProcessTrace(sshdPidFile: hosts.stateDir + "/hosts/\(Self.address)/sshd.pid") : nil
                let r = try await f.shipit(["deploy", "--from", f.release(version)])
                let started = try await trace?.finish()
                #expect(r.status == 0, "\(r.stdout)\(r.stderr)")
                #expect(r.stdout.contains("upload ok: streamed and extracted with the pre-flight"), "\(r.stdout)")
                // Pre-flight + lock + stream + extract; switch + start; finish + prune + unlock.
                #expect(try count("req exec") - execs == 3)
                #expect(try count("req subsystem") - subsystems == 0)
                if let started {
                    // One sshd for the connection, one login shell per exec channel, and the tools
                    // the scripts cannot do without (df, sha256sum, tar and gzip, the manifest's
                    // find | sort | xargs sha256sum, the changed files' awk | sort, ln and mv for
                    // the atomic switch, rm of the lock…): 25 on Debian 12 (docs/performance.md).
                    let list = started.map(\.description).sorted().joined(separator: "\n")
                    #expect(started.filter { $0.program.hasSuffix("/sshd") }.count == 1, "\(list)")
                    #expect(
                        started.filter { $0.program.hasSuffix("sh") && $0.arguments.contains("\"-c\"") }.count == 3,
                        "\(list)")
                    #expect(started.count <= 27, "\(started.count) programs started:\n\(list)")
                    print("remote processes for one deploy: \(started.count)\n\(list)")
                }
            }
            // A rollback: pre-flight with the inventory, switch + start, unlock.
            let execs = try count("req exec")
            #expect(try await f.shipit(["rollback"]).status == 0)
            #expect(try count("req exec") - execs == 3)
        }
    }

    /// With the traffic switch the warm-up on the idle slot rides on the pre-flight's channel too
    /// (no migrations, no pre-switch hook): still three per deploy, and a rollback to the warm
    /// standby is a pre-flight, a proxy switch and an unlock.
    @Test func behindTheTrafficSwitchADeployStillOpensThree() async throws {
        let address = "127.0.0.63"
        try await hosts.harness(["start-host", address], environment: ["SHIPIT_HOST_OPTS": "debug"])
        let f = try DeployFixture(targets: [address], extraYAML: "traffic: {proxy: nginx, drain: 1}")
        try await withCleanup({
            await f.stopAll(on: address)
            _ = try? await hosts.harness(["stop-host", address], environment: [:])
        }) {
            let log = hosts.stateDir + "/hosts/\(address)/sshd.log"
            func count(_ what: String) throws -> Int {
                try String(contentsOfFile: log, encoding: .utf8).components(separatedBy: what).count - 1
            }
            for version in ["v1", "v2"] {
                let execs = try count("req exec")
                let r = try await f.shipit(["deploy", "--from", f.release(version)])
                #expect(r.status == 0, "\(r.stdout)\(r.stderr)")
                #expect(r.stdout.contains("warm ok: started with the pre-flight"), "\(r.stdout)")
                // Pre-flight + lock + stream + extract + start on the idle slot; proxy switch; finish.
                #expect(try count("req exec") - execs == 3)
                #expect(try await f.served(address).contains("hello from releases-example \(version)"))
            }
            let execs = try count("req exec")
            let back = try await f.shipit(["rollback"])
            #expect(back.status == 0, "\(back.stdout)\(back.stderr)")
            #expect(try count("req exec") - execs == 3)
            #expect(try await f.served(address).contains("hello from releases-example v1"))
        }
    }
}
