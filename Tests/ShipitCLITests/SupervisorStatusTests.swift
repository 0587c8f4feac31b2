import Foundation
import SSH
import ShipitCore
import TestSupport
import Testing

extension SystemdSuites {
    /// What `status`, `verify`, `triage` and `check` say of the supervisor, on hosts whose PID 1 is
    /// systemd (scripts/systemdhosts.sh), through the built binary: a supervised deploy reads as
    /// systemd with no restarts; a serving app killed with SIGKILL answers again within 2 s and
    /// status counts the restart; a serving slot's unit disabled by hand fails verify, named; a
    /// deploy user who stops lingering is reported by check, and `check --fix` either makes it linger
    /// or says what to run as root.
    ///
    /// The hosts are shared with other suites running at the same time: every deploy here has its own
    /// app name, directory and ports (9300–9399), and lingering, which the others need, is put back
    /// whatever happens.
    @Suite("supervisor in status, verify, triage and check on systemd hosts")
    struct SupervisorStatusTests {
        let sd = SystemdHosts.current
        let on = SupervisedHosts()

        /// releases-example on `targets` (the switch, a worker, `supervisor: systemd`), named
        /// `supst-…` and on ports of this suite's own (9300–9399).
        func fixture(_ targets: [String]) throws -> DeployFixture {
            try on.fixture(targets: targets, port: 9300 + 3 * Int.random(in: 0..<33), name: "supst")
        }

        func snapshot(_ f: DeployFixture) async throws -> [HostInspection] {
            let run = try await f.shipit(["status", "--json"])
            return try ShipitBinary.decode(Snapshot.self, run.stdout).hosts
        }

        struct Snapshot: Decodable { let hosts: [HostInspection] }

        /// One command on `host` as the deploy user or root, on a session of its own: its exit
        /// status and output.
        func sh(_ host: String, _ command: String, asRoot: Bool = false) async throws -> ExecResult {
            let s = try await sd.connect(to: host, asRoot: asRoot)
            do {
                let r = try await s.exec(command, timeout: 60)
                await s.close()
                return r
            } catch {
                await s.close()
                throw error
            }
        }

        /// The requests the app behind `host`'s public port has answered (its /metrics.json counts
        /// from its start: a new process starts again from 0); nil when nothing answers 200.
        func requestsAnswered(_ host: String, port: Int) async -> Int? {
            guard
                let out = try? await Local.run([
                    "curl", "-s", "--fail", "--max-time", "0.5", "http://\(host):\(port)/metrics.json",
                ]),
                let json = try? JSONSerialization.jsonObject(with: Data(out.utf8)) as? [String: Any]
            else { return nil }
            return json["requests"] as? Int
        }

        @Test func aKilledAppIsRestartedAndCountedAndADisabledServingUnitFailsVerify() async throws {
            let f = try fixture(Array(sd.hosts.prefix(2)))
            try await withCleanup({ await f.cleanUp() }) {
                let deploy = try await f.shipit(["deploy", "--from", f.release("v1")])
                try #require(deploy.status == 0, "\(deploy.stdout)\(deploy.stderr)")

                // Every unit that should run is active and enabled, nothing restarted.
                let before = try await snapshot(f)
                #expect(before.map(\.host) == f.targets)
                for h in before {
                    let s = try #require(h.supervisor, "\(h.host): no supervisor reported")
                    let slot = try #require(h.slot)
                    #expect(s.supervisor == "systemd" && s.error == nil, "\(h.host): \(s)")
                    #expect(
                        s.units.map(\.name).sorted()
                            == [
                                "shipit-\(f.app)-proxy.service", "shipit-\(f.app)-role-worker.service",
                                "shipit-\(f.app)-slot@\(slot).service",
                            ], "\(h.host): \(s.units)")
                    #expect(
                        s.units.allSatisfy { $0.isActive && $0.isEnabled && $0.restarts == 0 }, "\(h.host): \(s.units)")
                    #expect(s.summary == "systemd")
                }
                let table = try await f.shipit(["status"])
                #expect(table.status == 0, "\(table.stdout)\(table.stderr)")
                let lines = table.stdout.split(separator: "\n").map(String.init)
                #expect(lines.contains { $0.hasPrefix("HOST ") && $0.contains(" SUPERVISOR ") }, "\(table.stdout)")
                for h in f.targets {
                    #expect(lines.contains { $0.hasPrefix(h + " ") && $0.contains("  systemd  ") }, "\(table.stdout)")
                }

                // The serving app on the first host, killed: its unit starts it again.
                let a = f.targets[0]
                let slot = try #require(before[0].slot)
                for _ in 0..<5 { _ = await on.get(a, f.port) }
                let served = try #require(await requestsAnswered(a, port: f.port))
                #expect(served >= 5)
                let pidFile = "\(f.deployTo)/.shipit/slots/\(slot).pid"
                let pid = on.trimmed(try await f.sh(a, "cat '\(pidFile)'"))
                try #require(Int(pid) ?? 0 > 1, "pid file: '\(pid)'")
                let kill = try await sh(a, "kill -9 \(pid)")
                #expect(kill.exitCode == 0, "\(kill.stderrText)")
                // An answer from a process that has not answered those five: the new one.
                let back = await on.secondsUntil(2) {
                    guard let n = await requestsAnswered(a, port: f.port) else { return false }
                    return n < served
                }
                #expect(back != nil, "\(a): no answer from a new app within 2 s of kill -9 \(pid)")
                let newPID = on.trimmed(try await f.sh(a, "cat '\(pidFile)'"))
                #expect(Int(newPID) ?? 0 > 1 && newPID != pid, "pid \(pid) before, '\(newPID)' after")

                let after = try await snapshot(f)
                let restarted = try #require(after.first { $0.host == a }?.supervisor)
                #expect(restarted.units.first { $0.kind == .slot }?.restarts == 1, "\(restarted.units)")
                #expect(restarted.units.filter { $0.kind != .slot }.allSatisfy { $0.restarts == 0 })
                #expect(restarted.summary == "systemd 1 restart (slot)")
                #expect(after.first { $0.host == f.targets[1] }?.supervisor?.restarts == 0)
                let table2 = try await f.shipit(["status"])
                let row = table2.stdout.split(separator: "\n").first { $0.hasPrefix(a + " ") }
                #expect(row?.contains("systemd 1 restart (slot)") == true, "\(table2.stdout)")
                // Triage: an app that crashes is the process layer.
                let triage = try ShipitBinary.decode(
                    TriageReport.self, try await f.shipit(["triage", "--json"]).stdout)
                #expect(
                    triage.findings.contains { $0.host == a && $0.layer == .process && $0.check == "restarts" },
                    "\(triage.findings)")
                // A restart is no drift: verify passes.
                let ok = try await f.shipit(["verify"])
                #expect(ok.status == 0, "\(ok.stdout)\(ok.stderr)")

                // The second host's serving slot disabled by hand: it would not come back at boot.
                let b = f.targets[1]
                let unit = "shipit-\(f.app)-slot@\(try #require(before[1].slot)).service"
                let disable = try await sh(b, "systemctl --user disable '\(unit)'")
                #expect(disable.exitCode == 0, "\(disable.stderrText)")
                let verify = try await f.shipit(["verify"])
                #expect(verify.status == 7, "\(verify.stdout)\(verify.stderr)")
                #expect(
                    verify.stdout.contains("\(b): supervisor: \(unit) (slot) runs but is disabled, not enabled"),
                    "\(verify.stdout)")
                #expect(!verify.stdout.contains("\(a): supervisor:"), "\(verify.stdout)")
                let json = try await snapshot(f)
                #expect(
                    json.first { $0.host == b }?.supervisor?.units.first { $0.kind == .slot }?.enabled == "disabled")
            }
        }

        /// Last, and brief: the other suites on these hosts need the deploy user to linger. A
        /// session of the deploy user stays open throughout, so its manager (and every unit of
        /// theirs) keeps running while it does not linger; lingering is put back as root whatever
        /// happens.
        @Test func checkReportsAUserWhoDoesNotLingerAndFixOrRootMakesItLinger() async throws {
            let host = sd.hosts[sd.hosts.count - 1]
            let f = try fixture([host])
            let user = sd.user
            let lingers = { () async throws -> Bool in
                try await sh(host, "test -e '/var/lib/systemd/linger/\(user)'", asRoot: true).exitCode == 0
            }
            try #require(try await lingers(), "\(host): \(user) does not linger before the test")
            let held = try await sd.connect(to: host)
            try await withCleanup({
                // Retried: another suite may be rebooting the host (the file outlives the reboot).
                let restored = await on.secondsUntil(90) {
                    let r = try? await sh(host, "loginctl enable-linger '\(user)'", asRoot: true)
                    guard r?.exitCode == 0 else { return false }
                    return (try? await lingers()) == true
                }
                #expect(restored != nil, "lingering NOT restored on \(host): as root, loginctl enable-linger \(user)")
                await held.close()
                await f.cleanUp()
            }) {
                let off = try await sh(host, "loginctl disable-linger '\(user)'", asRoot: true)
                try #require(off.exitCode == 0, "\(off.stderrText)")
                try #require(try await lingers() == false)

                let check = try await f.shipit(["check", "--json"])
                #expect(check.status == 3, "\(check.stdout)\(check.stderr)")
                let report = try ShipitBinary.decode(CheckReport.self, check.stdout)
                let item = try #require(report.hosts.first?.items.first { $0.check == "supervisor" }, "\(check.stdout)")
                #expect(item.status == .fail && item.detail.hasPrefix("\(user) does not linger"), "\(item)")
                #expect(
                    item.fix
                        == "shipit check --fix runs loginctl enable-linger (where polkit allows it), or as root: loginctl enable-linger \(user)"
                )
                #expect(try await lingers() == false, "check without --fix changed lingering")

                let fix = try await f.shipit(["check", "--fix", "--json"])
                let fixed = try ShipitBinary.decode(CheckReport.self, fix.stdout)
                let after = try #require(fixed.hosts.first?.items.first { $0.check == "supervisor" }, "\(fix.stdout)")
                // What the host did decides what the report must say: logind lets a user linger by
                // itself only where polkit allows it.
                if try await lingers() {
                    #expect(after.status == .ok && after.detail.contains("fixed: \(user) lingers now"), "\(after)")
                    #expect(fix.status == 0, "\(fix.stdout)")
                } else {
                    #expect(after.status == .fail, "\(after)")
                    #expect(after.detail.contains("loginctl enable-linger failed"), "\(after)")
                    #expect(after.fix?.hasPrefix("as root: loginctl enable-linger \(user)") == true, "\(after)")
                    #expect(fix.status == 3)
                }
            }
        }
    }
}
