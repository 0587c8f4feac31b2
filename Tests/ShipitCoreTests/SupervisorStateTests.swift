import Foundation
import TestSupport
import Testing

@testable import ShipitCore

/// What the inventory reports of the supervisor, read and judged without a host: the keys' shapes,
/// `SupervisorState` (status's column, verify's findings), triage's findings; and the inventory
/// script itself run by `/bin/sh` against a stand-in `systemctl`.
@Suite("supervisor in status, verify and triage")
struct SupervisorStateTests {
    static let unitLines = """
        supervisor=systemd
        unit.slot=shipit-demo-slot@9301.service active enabled 0 success
        unit.proxy=shipit-demo-proxy.service active enabled 0 success
        unit.role.worker=shipit-demo-role-worker.service active enabled 0 success
        """

    @Test func unitLinesHaveTheirShape() {
        #expect(HostValue.shape(of: "unit.slot") == .unitLine)
        #expect(HostValue.shape(of: "unit.role.worker") == .unitLine)
        #expect(HostValue.shape(of: "unit.role.a.b") == .unitLine)
        #expect(HostValue.shape(of: "supervisor") == .word)
        let good = [
            "shipit-demo-slot@9301.service active enabled 0 success",
            "shipit-demo.service failed - 12 start-limit-hit",
            "shipit-a.b_c-role-w.service activating disabled 3 exit-code",
        ]
        for v in good { #expect(HostValue.isValid(v, as: .unitLine), "\(v)") }
        let bad = [
            "shipit-demo.service active enabled 0",  // a field short
            "shipit-demo.service active enabled x success",  // not a count
            "shipit-demo.service active enabled -1 success",
            "shipit-demo.service active  0 success",  // an empty state (the script writes -)
            "../etc/passwd active enabled 0 success",
            "a@b@c.service active enabled 0 success",
            "shipit-demo.service $(reboot) enabled 0 success",
            "shipit-demo.service active enabled 0 success extra",
        ]
        for v in bad { #expect(!HostValue.isValid(v, as: .unitLine), "\(v)") }
        // A bad line is refused by the parser, naming it, and never reaches the state.
        let out = ScriptOutput("supervisor=systemd\nunit.slot=x;y active enabled 0 success\n")
        #expect(out.rejection?.contains("unit.slot") == true)
        #expect(SupervisorState(out)?.units == [])
    }

    @Test func aHealthySupervisedHostReadsAsSystemd() throws {
        var h = HostInspection(host: "a", reachable: true)
        h.read(ScriptOutput("current=r1\n" + Self.unitLines))
        let s = try #require(h.supervisor)
        #expect(s.isSystemd && s.error == nil && s.restarts == 0)
        #expect(s.units.map(\.what) == ["slot", "proxy", "role worker"])
        #expect(s.units[2].role == "worker" && s.units[0].name == "shipit-demo-slot@9301.service")
        #expect(s.summary == "systemd")
        #expect(s.problems.isEmpty)
        // JSON carries every unit whole.
        let data = try JSONEncoder().encode(h)
        let back = try JSONDecoder().decode(HostInspection.self, from: data)
        #expect(back.supervisor == s)
        let text = String(decoding: data, as: UTF8.self)
        #expect(text.contains("\"restarts\":0") && text.contains("\"enabled\":\"enabled\""), "\(text)")
    }

    @Test func noSupervisorAndNoReportAreTold() {
        #expect(SupervisorState(ScriptOutput("supervisor=none\n"))?.summary == "none")
        #expect(SupervisorState(ScriptOutput("supervisor=none\n"))?.problems == [])
        // The image strategy reports none: no column, no finding.
        #expect(SupervisorState(ScriptOutput("current=r1\n")) == nil)
    }

    @Test func restartsAndDriftAreSummedUpAndNamed() throws {
        let restarted = try #require(
            SupervisorState(
                ScriptOutput(
                    Self.unitLines.replacing(
                        "slot@9301.service active enabled 0", with: "slot@9301.service active enabled 2"))))
        #expect(restarted.summary == "systemd 2 restarts (slot)")
        #expect(restarted.problems.isEmpty)
        let both = try #require(
            SupervisorState(
                ScriptOutput(
                    Self.unitLines.replacing(
                        "slot@9301.service active enabled 0", with: "slot@9301.service active enabled 1"
                    )
                    .replacing("worker.service active enabled 0", with: "worker.service active enabled 3"))))
        #expect(both.summary == "systemd 4 restarts (slot 1, role worker 3)")

        let drifted = try #require(
            SupervisorState(
                ScriptOutput(
                    Self.unitLines.replacing(
                        "slot@9301.service active enabled", with: "slot@9301.service active disabled"
                    )
                    .replacing(
                        "worker.service active enabled 0 success",
                        with: "worker.service failed enabled 10 start-limit-hit"))))
        #expect(
            drifted.summary
                == "systemd 10 restarts (role worker): slot unit not enabled, role worker unit failed (start-limit-hit)"
        )
        #expect(
            drifted.problems == [
                "shipit-demo-slot@9301.service (slot) runs but is disabled, not enabled: it would not start at boot",
                "shipit-demo-role-worker.service (role worker) should run but is failed (start-limit-hit)",
            ])
        let gone = try #require(
            SupervisorState(ScriptOutput("supervisor=systemd\nunit.app=shipit-demo.service inactive - 0 success\n")))
        #expect(gone.summary == "systemd: app unit inactive")
        #expect(
            gone.problems == [
                "shipit-demo.service (app) should run but is inactive, and not enabled: a boot would not start it either"
            ])
        let mute = try #require(
            SupervisorState(
                ScriptOutput("supervisor=systemd\nsupervisor.error=systemctl show: Failed to connect to bus\n")))
        #expect(mute.summary == "systemd: no answer from systemctl")
        #expect(mute.problems == ["the supervisor did not answer: systemctl show: Failed to connect to bus"])
    }

    @Test func verifyFailsOnSupervisorDriftStatusDoesNot() {
        var a = HostInspection(host: "a", reachable: true)
        a.read(ScriptOutput("current=r1\n" + Self.unitLines))
        var b = HostInspection(host: "b", reachable: true)
        b.read(
            ScriptOutput(
                "current=r1\n"
                    + Self.unitLines.replacing(
                        "slot@9301.service active enabled", with: "slot@9301.service active disabled")))
        #expect(FleetVerdict([a, a], checkSupervisor: true).ok)
        let v = FleetVerdict([a, b], checkFiles: true, checkSupervisor: true)
        #expect(!v.ok && !v.drift && v.exitCode == .unhealthy)
        #expect(
            v.problems == [
                "b: supervisor: shipit-demo-slot@9301.service (slot) runs but is disabled, not enabled: it would not start at boot"
            ])
        // `status` judges health and releases; its SUPERVISOR column shows the rest.
        #expect(FleetVerdict([a, b]).ok)
    }

    func triage() throws -> Triage {
        let config = try DeployConfig.parse(
            yaml: "app: demo\nhosts: [a]\ndeploy_to: /srv/demo\nstart: sh start.sh\n",
            directory: Local.tempDir("triage-sv"))
        return Triage(
            config: config, transport: FakeTransport(hosts: ["a"]), ledger: nil, ledgerStatus: "missing", since: Date())
    }

    @Test func triageSeesCrashesAndUnitsDown() throws {
        let t = try triage()
        let (row, none) = t.judge(host: "a", out: ScriptOutput("current=r1\n" + Self.unitLines), live: nil, ready: nil)
        #expect(none.isEmpty && row.supervisor == "systemd")
        let crashing = ScriptOutput(
            "current=r1\n"
                + Self.unitLines.replacing(
                    "slot@9301.service active enabled 0", with: "slot@9301.service active enabled 4"
                )
                .replacing("worker.service active enabled 0 success", with: "worker.service failed enabled 0 oom-kill"))
        let (row2, found) = t.judge(host: "a", out: crashing, live: nil, ready: nil)
        #expect(row2.supervisor == "systemd 4 restarts (slot): role worker unit failed (oom-kill)")
        #expect(found.map(\.check) == ["restarts", "supervisor", "memory"])
        #expect(found.map(\.layer) == [.process, .process, .resources])
        #expect(
            found[0].detail
                == "systemd restarted shipit-demo-slot@9301.service 4 times since it was started: the app exits or crashes (its log: shipit logs)"
        )
        #expect(TriageReport.firstLayer(found) == .process)
        // Not enabled: the process serves on; verify's business, not an incident's.
        let (_, quiet) = t.judge(
            host: "a",
            out: ScriptOutput(
                "current=r1\n"
                    + Self.unitLines.replacing("proxy.service active enabled", with: "proxy.service active disabled")),
            live: nil, ready: nil)
        #expect(quiet.isEmpty)
    }

    // MARK: the script

    /// A host with the traffic switch (managed proxy) and a worker on it, its pre-flight's
    /// decision recorded, and `systemctl` a stand-in that logs its arguments and prints `show`.
    struct Host {
        let root = Local.tempDir("sv-facts")
        let config: DeployConfig
        var layout: HostLayout { config.layout }
        var bin: String { root + "/bin" }
        var calls: String { root + "/systemctl.calls" }

        init(_ show: String) throws {
            try """
            app: demo
            hosts: [{host: h1, roles: [web, worker]}]
            deploy_to: \(root)/srv/demo
            start: sh start.sh
            health: {port: 9300}
            traffic: {proxy: nginx, slots: [9301, 9302]}
            roles: {worker: {cmd: sh worker.sh}}
            """.write(toFile: root + "/shipit.yml", atomically: true, encoding: .utf8)
            config = try DeployConfig.load(file: root + "/shipit.yml")
            try FileManager.default.createDirectory(atPath: config.layout.slots, withIntermediateDirectories: true)
            try FileManager.default.createDirectory(atPath: bin, withIntermediateDirectories: true)
            try show.write(toFile: root + "/show.txt", atomically: true, encoding: .utf8)
            try
                "#!/bin/sh\nprintf '%s\\n' \"$*\" >> \(ShellQuote.quote(calls))\ncat \(ShellQuote.quote(root + "/show.txt"))\n"
                .write(toFile: bin + "/systemctl", atomically: true, encoding: .utf8)
            try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: bin + "/systemctl")
        }

        func record(_ file: String, _ value: String) throws {
            try (value + "\n").write(toFile: file, atomically: true, encoding: .utf8)
        }

        func run(_ command: RemoteCommand) async throws -> (ScriptOutput, String, [String]) {
            let (status, out) = try await LocalProcess.runStatusDetached([
                "/bin/sh", "-c", "PATH=\(ShellQuote.quote(bin)):$PATH; export PATH\n" + command.rendered,
            ])
            #expect(status == 0, "\(out)")
            let calls = (try? String(contentsOfFile: calls, encoding: .utf8)) ?? ""
            return (ScriptOutput(out), out, calls.split(separator: "\n").map(String.init))
        }
    }

    @Test func theInventoryAsksSystemdOnceForTheUnitsThatShouldRun() async throws {
        // systemd's blocks, in its own order of properties, a blank line after each.
        let show = """
            NRestarts=2
            Id=shipit-demo-slot@9302.service
            Result=success
            ActiveState=active
            UnitFileState=enabled

            NRestarts=0
            Id=shipit-demo-proxy.service
            Result=success
            ActiveState=active
            UnitFileState=disabled

            NRestarts=5
            Id=shipit-demo-role-worker.service
            Result=exit-code
            ActiveState=failed
            UnitFileState=enabled

            """
        let h = try Host(show)
        let strategy = SymlinkStrategy(config: h.config)

        // Never deployed with a supervisor: none, and not one fork of systemctl.
        let (none, text0, calls0) = try await h.run(strategy.inventory(host: "h1"))
        #expect(none.first(.supervisor) == "none", "\(text0)")
        #expect(calls0.isEmpty)

        try h.record(h.layout.meta + "/supervisor", "systemd")
        try h.record(h.layout.slots + "/active", "9302")
        for command in [strategy.inventory(host: "h1"), strategy.inspect(verify: false, historyLines: 0, host: "h1")] {
            try? FileManager.default.removeItem(atPath: h.calls)
            let (out, text, calls) = try await h.run(command)
            // One call for every unit: the serving slot's (not the standby's), the proxy's, the worker's.
            #expect(
                calls == [
                    "--user show -p Id,ActiveState,UnitFileState,NRestarts,Result -- shipit-demo-slot@9302.service shipit-demo-proxy.service shipit-demo-role-worker.service"
                ], "\(text)")
            #expect(out.rejection == nil, "\(text)")
            #expect(out.first("unit.slot") == "shipit-demo-slot@9302.service active enabled 2 success", "\(text)")
            #expect(out.first("unit.proxy") == "shipit-demo-proxy.service active disabled 0 success")
            #expect(out.first("unit.role.worker") == "shipit-demo-role-worker.service failed enabled 5 exit-code")
            var i = HostInspection(host: "h1", reachable: true)
            i.read(out)
            #expect(
                i.supervisor?.summary
                    == "systemd 7 restarts (slot 2, role worker 5): proxy unit not enabled, role worker unit failed (exit-code)"
            )
        }

        // Before the first switch no slot serves: no slot unit is asked about.
        try FileManager.default.removeItem(atPath: h.layout.slots + "/active")
        try? FileManager.default.removeItem(atPath: h.calls)
        let (_, _, calls) = try await h.run(strategy.inventory(host: "h1"))
        #expect(
            calls == [
                "--user show -p Id,ActiveState,UnitFileState,NRestarts,Result -- shipit-demo-proxy.service shipit-demo-role-worker.service"
            ])
    }

    @Test func aSystemctlThatFailsIsReportedNotFatal() async throws {
        let h = try Host("")
        try "#!/bin/sh\necho 'Failed to connect to bus: No medium found' >&2\nexit 1\n".write(
            toFile: h.bin + "/systemctl", atomically: true, encoding: .utf8)
        try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: h.bin + "/systemctl")
        try h.record(h.layout.meta + "/supervisor", "systemd")
        try h.record(h.layout.slots + "/active", "9301")
        let (out, text, _) = try await h.run(SymlinkStrategy(config: h.config).inventory(host: "h1"))
        #expect(out.first(.current) == "", "\(text)")
        #expect(out.first(.supervisorError) == "systemctl show: Failed to connect to bus: No medium found", "\(text)")
        #expect(SupervisorState(out)?.summary == "systemd: no answer from systemctl")
    }
}
