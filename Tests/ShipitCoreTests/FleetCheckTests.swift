import Foundation
import SSH
import TestSupport
import Testing

@testable import ShipitCore

/// The judgement of `shipit check` on what a host reports (pure: a transport that answers the
/// check script with given lines); the real hosts are in InitAndCheckTests.
@Suite("shipit check: judging host reports")
struct FleetCheckTests {
    /// The fleet answering the check script with `lines`, or failing to connect with `error`.
    func answering(lines: @escaping @Sendable (String) -> String, error: SSHError? = nil) -> FakeTransport {
        let t = FakeTransport(hosts: ["h1", "h2"])
        t.answers[.check] = lines
        t.connectError = error
        return t
    }

    func config(_ extra: String = "") throws -> DeployConfig {
        let dir = NSTemporaryDirectory() + "fc-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let file = dir + "/shipit.yml"
        try "app: a\nhosts: [h1, h2]\ndeploy_to: /srv/a\nstart: sh start.sh\nhealth: {port: 8080}\n\(extra)".write(
            toFile: file, atomically: true, encoding: .utf8)
        return try DeployConfig.load(file: file)
    }

    static func healthy(clock: Double = Date().timeIntervalSince1970, disk: Int = 5_000_000) -> String {
        """
        clock=\(String(format: "%.6f", clock))
        user=deploy
        existing=/srv/a
        writable=1
        layout=1
        diskkb=\(disk)
        tool=ok tar
        tool=ok gzip
        supervisor.init=other
        current=20261129T000000Z-aaaa
        """
    }

    @Test func aHealthyHostPasses() async throws {
        let t = answering(lines: { _ in Self.healthy() })
        let report = await FleetCheck(config: try config(), transport: t).run()
        // One script per host: the check, then the inventory in the same channel.
        #expect(t.commands.map(\.command.step) == [.check, .check])
        #expect(t.commands.allSatisfy { $0.command.alsoRuns == [.inventory] })
        #expect(report.passed)
        let items = report.hosts[0].items
        #expect(
            items.map(\.check) == [
                "ssh", "deploy_to", "disk", "tools", "supervisor", "lock", "release", "clock", "upload",
            ])
        #expect(items.allSatisfy { $0.status == .ok }, "\(items)")
        #expect(items.first { $0.check == "release" }?.detail == "current 20261129T000000Z-aaaa")
    }

    @Test func clockSkewWarnsThenFails() async throws {
        // The host's clock is read when the check runs (a loaded machine may start it late).
        let report = await FleetCheck(
            config: try config(),
            transport: answering(lines: {
                let now = Date().timeIntervalSince1970
                return $0 == "h1" ? Self.healthy(clock: now + 20) : Self.healthy(clock: now - 600)
            })
        ).run()
        let h1 = report.hosts[0].items.first { $0.check == "clock" }!
        let h2 = report.hosts[1].items.first { $0.check == "clock" }!
        // About +20 s and -600 s: the host's answer falls anywhere in the round trip, which a
        // loaded machine stretches.
        func seconds(_ detail: String) -> Double { Double(detail.prefix { $0 != " " }) ?? .nan }
        #expect(h1.status == .warn && abs(seconds(h1.detail) - 20) < 5, "\(h1)")
        #expect(h2.status == .fail && abs(seconds(h2.detail) + 600) < 5, "\(h2)")
        #expect(h2.fix?.contains("NTP") == true)
        #expect(report.failedHosts == ["h2"])
    }

    @Test func missingToolsLowDiskAndAHeldLockAreNamed() async throws {
        let lines = Self.healthy(disk: 1000) + "\ntool=missing nginx\nlock.holder=run-1\nlock.by=ops@ci\nlock.pid=42\n"
        var check = FleetCheck(
            config: try config("traffic: {proxy: nginx}"), transport: answering(lines: { _ in lines }))
        check.minFreeKB = 2000
        let items = await check.run().hosts[0].items
        let tools = items.first { $0.check == "tools" }!
        #expect(tools.status == .fail && tools.detail.contains("nginx (traffic switch (managed nginx))"), "\(tools)")
        #expect(tools.fix?.contains("apt-get install nginx") == true)
        #expect(items.first { $0.check == "disk" }?.status == .fail)
        let lock = items.first { $0.check == "lock" }!
        #expect(
            lock.status == .warn && lock.detail.contains("ops@ci") && lock.fix?.contains("shipit lock release") == true)
    }

    @Test func theCheckAsksForTheToolsOfTheStrategyAndTheMigrationHost() throws {
        let c = try config(
            "migrations: {dir: db, env_file: /etc/a.env, host: h2}\ntraffic: {proxy: nginx, nginx: /opt/nginx/sbin/nginx}"
        )
        let check = HostCheck(config: c)
        #expect(check.tools(host: "h1").map(\.tool) == SymlinkStrategy.tools + ["/opt/nginx/sbin/nginx"])
        #expect(check.tools(host: "h2").map(\.tool).last == "psql")
        // Read-only unless --fix: the only mkdir is behind $FIX.
        let script = check.command(host: "h1", fix: false).rendered
        #expect(script.contains("FIX=''"))
        #expect(!script.contains("take_lock"))
    }

    @Test func connectionFailuresSayWhatToDo() async throws {
        let mismatch = SSHError(kind: .hostKeyMismatch, host: "h1", operation: "host key", message: "key differs")
        let report = await FleetCheck(config: try config(), transport: answering(lines: { _ in "" }, error: mismatch))
            .run()
        let item = report.hosts[0].items[0]
        #expect(item.check == "host key" && item.status == .fail)
        #expect(item.fix?.contains("ssh-keygen -R h1") == true)
        #expect(!report.passed)
        let auth = SSHError(kind: .authentication, host: "h1", operation: "auth", message: "denied")
        let a = await FleetCheck(config: try config(), transport: answering(lines: { _ in "" }, error: auth)).run()
            .hosts[
                0
            ].items[0]
        #expect(a.check == "auth" && a.fix?.contains("authorized_keys") == true)
    }

    /// The supervisor line for `supervisor:` (the default: auto) and what the host said.
    func item(_ yaml: String, _ lines: String) throws -> CheckReport.Item? {
        SupervisorCheck(supervision: SymlinkStrategy(config: try config(yaml)).supervision)
            .item(ScriptOutput(lines), user: "deploy")
    }

    @Test func theSupervisorLineTellsLingeringAndWhatToRunAsRoot() throws {
        let systemd = "supervisor.init=systemd\nsupervisor.manager=running\n"
        #expect(try item("supervisor: none", "") == nil)
        let ok = try #require(try item("", systemd + "linger=yes\n"))
        #expect(ok.status == .ok && ok.detail == "systemd (user units of deploy, who lingers)")

        // Not lingering: auto would run unsupervised (a warning), systemd would refuse (a failure).
        let auto = try #require(try item("", systemd + "linger=no\n"))
        #expect(auto.status == .warn)
        #expect(auto.detail.contains("deploy does not linger") && auto.detail.contains("unsupervised"))
        #expect(
            auto.fix
                == "shipit check --fix runs loginctl enable-linger (where polkit allows it), or as root: loginctl enable-linger deploy"
        )
        let strict = try #require(try item("supervisor: systemd", systemd + "linger=no\n"))
        #expect(strict.status == .fail && strict.detail.contains("refused"))

        // --fix: done, or what to run as root instead.
        let fixed = try #require(try item("", systemd + "linger.fixed=deploy\nlinger=yes\n"))
        #expect(fixed.status == .ok && fixed.detail.contains("fixed: deploy lingers now"))
        let refused = try #require(
            try item("supervisor: systemd", systemd + "linger.fixfailed=Access denied\nlinger=no\n"))
        #expect(refused.status == .fail && refused.detail.contains("loginctl enable-linger failed (Access denied)"))
        #expect(refused.fix?.hasPrefix("as root: loginctl enable-linger deploy") == true)

        // No systemd: what auto is for; refused with systemd.
        #expect(try item("", "supervisor.init=other\n")?.status == .ok)
        #expect(try item("supervisor: systemd", "supervisor.init=other\n")?.status == .fail)
        let mute = try #require(try item("", "supervisor.init=systemd\nsupervisor.manager=offline\nlinger=yes\n"))
        #expect(mute.status == .warn && mute.fix?.contains("libpam-systemd") == true)
        let system = try #require(
            try item("supervisor: {mode: systemd, units: system, sudo: 'sudo -n'}", systemd))
        #expect(system.status == .ok && system.detail == "systemd (system units through 'sudo -n')")
    }

    @Test func onlyFixMakesTheUserLinger() throws {
        let c = try config()
        for fix in [false, true] {
            #expect(HostCheck(config: c).command(host: "h1", fix: fix).hostScript?.value(of: "FIX") == (fix ? "1" : ""))
        }
        // The one change, behind $FIX.
        let lines = HostCheck(config: c).command(host: "h1", fix: false).rendered.split(separator: "\n")
        let i = try #require(lines.firstIndex { $0.contains("loginctl enable-linger") })
        #expect(lines[i - 2].contains("[ -n \"$FIX\" ]; then"), "\(lines[(i - 2)...i])")
        // Without a supervisor: no supervisor line to check, no lingering to fix.
        let none = HostCheck(config: try config("supervisor: none")).command(host: "h1", fix: true).rendered
        #expect(!none.contains("loginctl") && !none.contains("supervisor.init"))
    }
}
