import Foundation
import TestSupport
import Testing

@testable import ShipitCore

@Suite("shipit.yml validation")
struct ConfigTests {
    static let valid = """
        app: demo
        hosts: [127.0.0.11, 127.0.0.12]
        ssh:
          user: deploy
        deploy_to: /srv/demo
        health:
          port: 8080
        """

    private func load(_ yaml: String, stage: (String, String)? = nil) throws -> DeployConfig {
        let dir = Local.tempDir("cfg")
        guard let stage else { return try DeployConfig.parse(yaml: yaml, directory: dir) }
        // A stage's overlay is a file beside the config.
        try yaml.write(toFile: dir + "/shipit.yml", atomically: true, encoding: .utf8)
        try stage.1.write(toFile: dir + "/shipit.\(stage.0).yml", atomically: true, encoding: .utf8)
        return try DeployConfig.load(file: dir + "/shipit.yml", stage: stage.0)
    }

    private func error(_ yaml: String) -> String {
        do {
            _ = try load(yaml)
            return "no error"
        } catch let e as ShipitError { return e.message } catch { return "\(error)" }
    }

    @Test func loadsAValidConfigWithDefaults() throws {
        let c = try load(Self.valid)
        #expect(c.app == "demo")
        #expect(c.hosts == ["127.0.0.11", "127.0.0.12"])
        #expect(c.connection.user == "deploy")
        #expect(c.deployTo == "/srv/demo")
        #expect(c.keepReleases == 5)
        #expect(c.health?.live == "/health/live")
        #expect(c.health?.ready == "/health/ready")
        #expect(c.configHash.count == 64)
    }

    @Test func stageOverlayMergesOverTheBase() throws {
        let c = try load(Self.valid, stage: ("production", "hosts: [10.0.0.5]\nhealth:\n  deadline: 30\n"))
        #expect(c.hosts == ["10.0.0.5"])
        #expect(c.health?.port == 8080)
        #expect(c.health?.deadline == 30)
        #expect(c.stage == "production")
    }

    @Test func unknownKeyNamesFileLineAndField() {
        let e = error(Self.valid + "\nhelth:\n  port: 1\n")
        #expect(e.contains("shipit.yml:9:"))
        #expect(e.contains("helth: unknown key"))
        #expect(
            error(Self.valid.replacingOccurrences(of: "  user: deploy", with: "  usr: deploy")).contains(
                "ssh.usr: unknown key"))
    }

    @Test func missingAndRelativeFields() {
        #expect(error("hosts: [a]\ndeploy_to: /x\n").contains("missing required key 'app'"))
        #expect(error(Self.valid.replacingOccurrences(of: "/srv/demo", with: "srv/demo")).contains("deploy_to"))
        #expect(error(Self.valid.replacingOccurrences(of: "/srv/demo", with: "/srv/../etc")).contains("deploy_to"))
    }

    @Test(arguments: [
        ("app: demo", "app: de;mo", "app"),
        ("app: demo", "app: $(reboot)", "app"),
        ("127.0.0.12]", "127.0.0.12, 'a b']", "hosts[2]"),
        ("127.0.0.12]", "127.0.0.12, '../x']", "hosts[2]"),
        ("deploy_to: /srv/demo", "deploy_to: '/srv/de mo'", "deploy_to"),
        ("deploy_to: /srv/demo", "deploy_to: /srv/demo\nshared: ['../secrets']", "shared[0]"),
        ("deploy_to: /srv/demo", "deploy_to: /srv/demo\nshared: ['log;rm']", "shared[0]"),
        ("  port: 8080", "  port: 99999", "health.port"),
        ("  port: 8080", "  port: 8080\n  ready: 'health ready'", "health.ready"),
    ])
    func hostileValuesAreRefusedNamingTheField(find: String, replace: String, field: String) {
        let e = error(Self.valid.replacingOccurrences(of: find, with: replace))
        #expect(e.contains(field), "\(e)")
    }

    @Test func yamlBombIsRefusedFast() {
        // Billion-laughs under a key shipit reads: the strict schema stops at the first wrong type,
        // and aliases share storage instead of being copied.
        let bomb = """
            app: demo
            deploy_to: /srv/x
            l0: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]
            """
        let nested = (1...8).map { i in
            "l\(i): &\(Character(UnicodeScalar(97 + i)!)) ["
                + Array(repeating: "*\(Character(UnicodeScalar(96 + i)!))", count: 9).joined(separator: ",") + "]"
        }.joined(separator: "\n")
        let start = ContinuousClock.now
        let e = error(bomb + "\n" + nested + "\nhosts: *i\n")
        #expect(e.contains("unknown key") || e.contains("expected"))
        // Expanded, it would take minutes: a loaded test machine needs slack.
        #expect(ContinuousClock.now - start < .seconds(10))
    }

    @Test func hugeConfigIsRefused() {
        let huge = Self.valid + "\n#" + String(repeating: "x", count: 2 << 20) + "\n"
        #expect(error(huge).contains("is refused"))
    }
}

/// `traffic:` (docs/traffic.md): defaults, and every refusal names the field.
@Suite("shipit.yml: the traffic switch")
struct TrafficConfigTests {
    private func load(_ traffic: String, start: Bool = true, health: Bool = true) throws -> DeployConfig {
        try DeployConfig.parse(
            yaml: """
                app: demo
                hosts: [127.0.0.11]
                deploy_to: /srv/demo
                \(start ? "start: sh start.sh" : "")
                \(health ? "health: {port: 8080}" : "")
                \(traffic)
                """, directory: Local.tempDir("cfg-traffic"))
    }

    private func error(_ traffic: String, start: Bool = true, health: Bool = true) -> String {
        do {
            _ = try load(traffic, start: start, health: health)
            return "no error"
        } catch let e as ShipitError { return e.message } catch { return "\(error)" }
    }

    @Test func defaultsAndNone() throws {
        let t = try #require(try load("traffic: {proxy: nginx}").traffic)
        #expect(
            t.mode == .managed && t.slots == [8081, 8082] && t.drain == 10 && t.standbySeconds == nil
                && t.nginx == "nginx")
        #expect(t.idle(after: nil) == 8081 && t.idle(after: 8081) == 8082 && t.idle(after: 8082) == 8081)
        #expect(try load("traffic: none").traffic == nil)
        #expect(try load("traffic: {proxy: none}").traffic == nil)
        #expect(try load("traffic: {standby: 600, slots: [9001, 9002]}").traffic?.standbySeconds == 600)
    }

    @Test func refusals() {
        #expect(error("traffic: {proxy: haproxy}").contains("traffic.proxy: expected 'nginx' or 'none'"))
        #expect(error("traffic: {proxy: nginx}", health: false).contains("needs 'health'"))
        #expect(error("traffic: {proxy: nginx}", start: false).contains("'start' is needed"))
        #expect(error("traffic: {slots: [8080, 8081]}").contains("traffic.slots"))
        #expect(error("traffic: {slots: [9000, 9000]}").contains("two different ports"))
        #expect(error("traffic: {mode: system}").contains("mode system needs 'upstream_file'"))
        #expect(error("traffic: {reload: 'sudo systemctl reload nginx'}").contains("'reload' is for mode system"))
        #expect(error("traffic: {nginx: 'nginx; rm -rf /'}").contains("traffic.nginx"))
        #expect(error("traffic: {standby: forever}").contains("expected 'keep' or seconds"))
        #expect(
            error("traffic: {mode: system, upstream_file: relative.conf, test: t, reload: r}").contains(
                "traffic.upstream_file"))
        #expect(error("traffic: sometimes").contains("expected 'none'"))
    }
}

/// `health.address` and `health.check_from`: what the public listener binds, and where it is
/// checked from. Never a name the host resolves for itself.
@Suite("shipit.yml: where the public listener binds")
struct ListenAddressTests {
    private func load(_ health: String, traffic: Bool = true, hosts: String = "[127.0.0.11, web-a]") throws
        -> DeployConfig
    {
        try DeployConfig.parse(
            yaml: """
                app: demo
                hosts: \(hosts)
                deploy_to: /srv/demo
                start: sh start.sh
                health: {port: 8080\(health)}
                \(traffic ? "traffic: {proxy: nginx}" : "")
                """, directory: Local.tempDir("cfg-listen"))
    }

    private func error(_ health: String) -> String {
        do {
            _ = try load(health)
            return "no error"
        } catch let e as ShipitError { return e.message } catch { return "\(error)" }
    }

    @Test func everyAddressByDefaultCheckedFromTheDeployer() throws {
        let c = try load("")
        let h = try #require(c.health)
        #expect(h.bindAddress(of: "web-a") == "0.0.0.0" && h.slotAddress(of: "web-a") == "127.0.0.1")
        #expect(h.checkFrom == .deployer && h.probeAddress(of: "web-a") == "web-a")
        let conf = try #require(SymlinkStrategy(config: c).traffic).nginxConf(host: "web-a")
        #expect(conf.contains("listen 0.0.0.0:8080;") && conf.contains("proxy_pass http://127.0.0.1:8081;"), "\(conf)")
        #expect(!conf.contains("listen web-a") && !conf.contains("http://web-a"), "\(conf)")
        // Behind the proxy the app binds the slots' loopback; without it, every address.
        #expect(SymlinkStrategy(config: c).startEnv(host: "web-a").contains { $0 == ("SHIPIT_BIND", "127.0.0.1") })
        let plain = SymlinkStrategy(config: try load("", traffic: false)).startEnv(host: "web-a")
        #expect(plain.contains { $0 == ("SHIPIT_BIND", "0.0.0.0") } && plain.contains { $0 == ("PORT", "8080") })
        let image = ImageStrategy(
            config: try load("", traffic: false),
            image: ImageSettings(name: "localhost/app", containerPort: 80, port: 8080))
        #expect(image.createArguments(host: "web-a").contains("-p 0.0.0.0:8080:80"))
    }

    @Test func narrowedToAnAddressOrTheReachedOne() throws {
        let literal = try #require(try load(", address: 192.0.2.7").health)
        #expect(literal.bindAddress(of: "web-a") == "192.0.2.7" && literal.slotAddress(of: "web-a") == "192.0.2.7")
        let v6 = try load(", address: '2001:db8::5'")
        #expect(
            try #require(SymlinkStrategy(config: v6).traffic).nginxConf(host: "web-a").contains(
                "listen [2001:db8::5]:8080;"))
        // A literal is what the deployer checks.
        #expect(literal.probeAddress(of: "web-a") == "192.0.2.7")
        // `reached`: resolved on the deployer (localhost here), never left to the host.
        let reached = try #require(try load(", address: reached", hosts: "[127.0.0.11, localhost]").health)
        #expect(reached.bindAddress(of: "127.0.0.11") == "127.0.0.11")
        #expect(IPAddress.isLiteral(reached.bindAddress(of: "localhost")))
        let fromHost = try #require(try load(", check_from: host").health)
        #expect(fromHost.checkFrom == .host && fromHost.probeAddress(of: "web-a") == "127.0.0.1")
    }

    @Test func refusals() {
        #expect(error(", address: web-a").contains("health.address: expected an IP address"))
        #expect(error(", address: 'localhost'").contains("127.0.1.1"))
        #expect(error(", check_from: everywhere").contains("health.check_from: expected 'deployer' or 'host'"))
        // A loopback listener, checked from the deployer, would be checked on the deployer's own loopback.
        #expect(error(", address: 127.0.1.1").contains("health.address: 127.0.1.1 is a loopback address"))
        #expect(error(", address: '::1'").contains("loopback"))
        #expect(error(", address: 127.0.1.1, check_from: host") == "no error")
        let unresolvable = (try? load(", address: reached", hosts: "[no-such-host.invalid]")).map { _ in "loaded" }
        #expect(unresolvable == nil)
    }
}

/// `deploy --dry-run` shows every step a deploy takes: the deployer's hooks in their place and the
/// migration step on its host, beside each host's commands.
@Suite("deploy --dry-run: every step")
struct DryRunPlanTests {
    @Test func hooksAndMigrationsAreInThePlan() throws {
        let dir = Local.tempDir("dry")
        try FileManager.default.createDirectory(atPath: dir + "/hooks", withIntermediateDirectories: true)
        for name in ["pre-switch", "post-switch"] {
            try "#!/bin/sh\n".write(toFile: dir + "/hooks/" + name, atomically: true, encoding: .utf8)
            try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: dir + "/hooks/" + name)
        }
        try """
        app: demo
        hosts: [web-1, web-2]
        deploy_to: /srv/demo
        start: sh start.sh
        health: {port: 8080}
        migrations: {dir: db/migrations, env_file: /etc/demo/db.env}
        """.write(toFile: dir + "/shipit.yml", atomically: true, encoding: .utf8)
        let config = try DeployConfig.load(file: dir + "/shipit.yml")
        try FileManager.default.createDirectory(atPath: dir + "/rel", withIntermediateDirectories: true)
        try "x".write(toFile: dir + "/rel/app", atomically: true, encoding: .utf8)
        let artifact = try Artifact.build(from: .directory(dir + "/rel"), workDir: Local.tempDir("work"))
        let plan = DryRunPlan.render(config, input: .artifact(artifact), lockWaitSeconds: 0)
        let order = try #require(plan.split(separator: "\n").first { $0.hasPrefix("# order: ") })
        #expect(
            order
                == "# order: preflight on every host → extract on every host → migrations on web-1 (status, lint, then each pending file) → hook pre-switch (\(dir)/hooks/pre-switch) → switch + start → hook post-switch (\(dir)/hooks/post-switch) → smoke test → finish",
            "\(order)")
        // The migration host's section has the migration status script; the other host's has none.
        let sections = plan.components(separatedBy: "\n## ")
        #expect(
            sections[1].hasPrefix("web-1") && sections[1].contains("# migrations: applied versions")
                && sections[1].contains("shipit_schema_migrations"))
        #expect(sections[2].hasPrefix("web-2") && !sections[2].contains("# migrations"))
    }
}
