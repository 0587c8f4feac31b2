import Foundation
import TestSupport
import Testing

@testable import ShipitCore

/// `supervisor:` parsed and refused with the field named; the unit files and launchers it makes,
/// the launchers run in a real shell.
@Suite("supervisor: settings, unit files and launchers")
struct SupervisorConfigTests {
    private func load(_ extra: String, deployTo: String = "/srv/demo", start: String = "sh start.sh") throws
        -> DeployConfig
    {
        try DeployConfig.parse(
            yaml: """
                app: demo
                hosts:
                  - {host: h1, roles: [web, worker]}
                deploy_to: \(deployTo)
                start: '\(start.replacing("'", with: "''"))'
                health: {port: 8080}
                roles:
                  worker: {cmd: sh worker.sh, stop_signal: QUIT, stop_timeout: 2.5}
                \(extra)
                """, directory: Local.tempDir("sv"))
    }

    private func error(_ extra: String) -> String {
        do {
            _ = try load(extra)
            return ""
        } catch { return "\(error)" }
    }

    @Test func defaultsAndForms() throws {
        #expect(try load("").supervisor == SupervisorSettings())
        #expect(try load("").supervisor.mode == .auto)
        #expect(try load("supervisor: none").supervisor.mode == SupervisorSettings.Mode.none)
        let s = try load("supervisor: {mode: systemd, units: system, sudo: 'sudo -n'}").supervisor
        #expect(s.mode == .systemd && s.units == .system && s.sudo == ["sudo", "-n"])
    }

    @Test(arguments: [
        ("supervisor: upstart", "supervisor"),
        ("supervisor: {mode: sometimes}", "supervisor.mode"),
        ("supervisor: {units: global}", "supervisor.units"),
        ("supervisor: {sudo: 'sudo -n'}", "supervisor.sudo"),
        ("supervisor: {units: system, sudo: 'sudo -n; rm -rf /'}", "supervisor.sudo"),
        ("supervisor: {units: system, sudo: '$(id)'}", "supervisor.sudo"),
        ("supervisor: {mode: none, units: system}", "supervisor"),
        ("supervisor: {mode: systemd, user: root}", "supervisor"),
    ])
    func badValuesNameTheField(yaml: String, field: String) {
        let e = error(yaml)
        #expect(e.contains(field), "\(yaml): \(e)")
    }

    @Test func unitFilesSayWhatRunsHowAndForWhom() throws {
        let config = try load("traffic: {proxy: nginx}")
        let strategy = SymlinkStrategy(config: config)
        let files = Dictionary(
            uniqueKeysWithValues: strategy.supervision.files(strategy.processes(on: "h1")).map { ($0.name, $0.text) })
        #expect(
            Set(files.keys) == [
                "shipit-demo-slot@.service", "slot.start", "shipit-demo-proxy.service", "proxy.start",
                "shipit-demo-role-worker.service", "role-worker.start",
            ])
        let slot = try #require(files["shipit-demo-slot@.service"])
        #expect(slot.hasPrefix("# shipit: /srv/demo\n"))
        for line in [
            "Type=forking", "PIDFile=/srv/demo/.shipit/slots/%i.pid",
            "ExecStart=/bin/sh /srv/demo/.shipit/units/slot.start %i", "Restart=on-failure", "WantedBy=default.target",
        ] {
            #expect(slot.split(separator: "\n").contains(Substring(line)), "\(line) in\n\(slot)")
        }
        // [Service] last: a system unit's User= and Group= are appended to it on the host.
        #expect(slot.components(separatedBy: "[Service]").last?.contains("[") == false)
        let role = try #require(files["shipit-demo-role-worker.service"])
        for line in ["Type=simple", "KillSignal=SIGQUIT", "TimeoutStopSec=2500ms"] {
            #expect(role.split(separator: "\n").contains(Substring(line)), "\(line) in\n\(role)")
        }
        let system = try load("traffic: {proxy: nginx}\nsupervisor: {units: system}")
        let s = SymlinkStrategy(config: system)
        #expect(
            s.supervision.files(s.processes(on: "h1")).filter { $0.name.hasSuffix(".service") }
                .allSatisfy { $0.text.contains("WantedBy=multi-user.target") })
        // Without the switch: the app's own unit, no slot and no proxy.
        let plain = SymlinkStrategy(config: try load(""))
        #expect(
            Set(plain.supervision.files(plain.processes(on: "h1")).map(\.name)) == [
                "shipit-demo.service", "app.start", "shipit-demo-role-worker.service", "role-worker.start",
            ])
    }

    /// The slot launcher in sh: it starts the release recorded for its slot, in that release's
    /// directory, with the start environment; a start command full of quotes runs as written.
    @Test func theSlotLauncherStartsTheRecordedReleaseAsWritten() async throws {
        let root = Local.tempDir("sv-run")
        let start = #"printf '%s|%s|%s|%s\n' "$PWD" "$PORT" "$SHIPIT_PIDFILE" 'it'"'"'s "quoted" $HOME' > started"#
        let config = try load("traffic: {proxy: nginx}", deployTo: root + "/app", start: start)
        let strategy = SymlinkStrategy(config: config)
        let launcher = try #require(
            strategy.supervision.files(strategy.processes(on: "h1")).first { $0.name == "slot.start" }?.text)
        let fm = FileManager.default
        try fm.createDirectory(atPath: root + "/app/releases/R1", withIntermediateDirectories: true)
        try fm.createDirectory(atPath: root + "/app/.shipit/slots", withIntermediateDirectories: true)
        try "R1\n".write(toFile: root + "/app/.shipit/slots/8081.release", atomically: true, encoding: .utf8)
        try "stale\n".write(toFile: root + "/app/.shipit/slots/8081.pid", atomically: true, encoding: .utf8)
        try launcher.write(toFile: root + "/slot.start", atomically: true, encoding: .utf8)
        let (status, out) = try await LocalProcess.runStatusDetached(["sh", root + "/slot.start", "8081"])
        #expect(status == 0, "\(out)")
        let started = try String(contentsOfFile: root + "/app/releases/R1/started", encoding: .utf8)
        #expect(
            started
                == "\(root)/app/releases/R1|8081|\(root)/app/.shipit/slots/8081.pid|it's \"quoted\" $HOME\n")
        // The stale pid is gone before the start runs.
        #expect(!fm.fileExists(atPath: root + "/app/.shipit/slots/8081.pid"))
        // A slot with no release recorded does not start anything.
        let (none, why) = try await LocalProcess.runStatusDetached(["sh", root + "/slot.start", "8082"])
        #expect(none != 0 && why.contains("slot 8082: no release to start"), "\(why)")
    }

    /// The launchers as POSIX sh, through shellcheck like the host scripts.
    @Test func everyLauncherPassesShellcheck() async throws {
        let dir = Local.tempDir("sv-shellcheck")
        var files: [String] = []
        for extra in ["traffic: {proxy: nginx}", ""] {
            let strategy = SymlinkStrategy(config: try load(extra))
            for f in strategy.supervision.files(strategy.processes(on: "h1")) where f.name.hasSuffix(".start") {
                let path = dir + "/\(files.count)-" + f.name
                try f.text.write(toFile: path, atomically: true, encoding: .utf8)
                files.append(path)
            }
        }
        #expect(files.count == 5)
        let (status, out) = try await LocalProcess.runStatusDetached(
            ["shellcheck", "--shell=sh", "--severity=warning", "--format=gcc"] + files)
        #expect(status == 0, "\(out)")
    }
}
