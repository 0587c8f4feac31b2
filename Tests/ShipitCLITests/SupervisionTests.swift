import Foundation
import ShipitCore
import TestSupport
import Testing

extension SystemdSuites {
    /// `supervisor: systemd` on hosts whose PID 1 is systemd (scripts/systemdhosts.sh): releases-example
    /// behind the traffic switch with a worker, as the deploy user's units. What is enabled is what
    /// serves; a crash and a reboot bring it back with no shipit command run.
    @Suite("supervision: systemd units bring the release back after a crash and a reboot")
    struct SupervisionTests {
        let sd = SystemdHosts.current
        let on = SupervisedHosts()

        @Test func afterARebootTheServingReleaseAndTheWorkerComeBackByThemselves() async throws {
            let f = try on.fixture()
            try await withCleanup({ await f.cleanUp() }) {
                for v in ["v1", "v2", "v1"] {
                    let r = try await f.shipit(["deploy", "--from", f.release(v)])
                    #expect(r.status == 0, "\(r.stdout)\(r.stderr)")
                    // Said once per run, not per host.
                    #expect(r.stdout.components(separatedBy: "supervisor: systemd").count == 2, "\(r.stdout)")
                }
                try await on.expectServingEnabled(f, "before the reboot")
                var standby: [String: String] = [:]
                for h in f.targets {
                    let active = try await on.activeSlot(f, h)
                    standby[h] = String(f.port + 1) == active ? String(f.port + 2) : String(f.port + 1)
                }

                // Every host at once; each returns when its sshd accepts again.
                try await withThrowingTaskGroup(of: Void.self) { g in
                    for h in f.targets { g.addTask { try await sd.reboot(h) } }
                    try await g.waitForAll()
                }
                for h in f.targets {
                    // From the deployer first: a login would not start anything a boot did not.
                    let back = await on.secondsUntil(10) { await on.get(h, f.port).contains("releases-example v1") }
                    #expect(back != nil, "\(h): the serving release did not answer within 10 s of sshd")
                    let worker = await on.secondsUntil(10) { await on.workerOK(f, h, version: "v1") }
                    #expect(worker != nil, "\(h): the worker did not run within 10 s of sshd")
                    // The standby is not enabled: after a boot only what serves runs.
                    let st = try await f.sh(
                        h, "systemctl --user is-active shipit-\(f.app)-slot@\(standby[h]!).service || true")
                    #expect(on.trimmed(st) == "inactive", "\(h): standby slot \(standby[h]!) is \(st)")
                }
                try await on.expectServingEnabled(f, "after the reboot")
                // And the next deploy is an ordinary one.
                let next = try await f.shipit(["deploy", "--from", f.release("v2")])
                #expect(next.status == 0, "\(next.stdout)\(next.stderr)")
                try await on.expectServingEnabled(f, "after the next deploy")
            }
        }

        @Test func aKilledAppAndAKilledWorkerAreRestarted() async throws {
            let host = sd.hosts[0]
            let f = try on.fixture(targets: [host])
            try await withCleanup({ await f.cleanUp() }) {
                #expect(try await f.shipit(["deploy", "--from", f.release("v1")]).status == 0)
                let slot = try await on.activeSlot(f, host)
                try await on.expectRestartedAfterKill(f, host, pidFile: "\(f.deployTo)/.shipit/slots/\(slot).pid")
                let restarts = try await f.sh(
                    host, "systemctl --user show -p NRestarts --value shipit-\(f.app)-slot@\(slot).service")
                #expect(on.trimmed(restarts) == "1", "NRestarts=\(restarts)")

                // The worker's process (the unit's main process is the shell that waits for it).
                let worker = on.trimmed(
                    try await f.sh(
                        host,
                        "pgrep -u \"$(id -un)\" -f '^sh worker.sh$' -g $(cat \(f.deployTo)/.shipit/roles/worker.pid)"))
                #expect(Int(worker) != nil, "worker pid '\(worker)'")
                _ = try await f.sh(host, "kill -9 \(worker)")
                // Its own status check passing again: a new worker, heartbeat fresh (polled over SSH: a
                // login per poll, so the bound is loose; measured: about 1 s).
                let again = await on.secondsUntil(10) {
                    let now = (try? await f.sh(host, "pgrep -u \"$(id -un)\" -f '^sh worker.sh$' || true")) ?? ""
                    return !now.isEmpty && !now.split(separator: "\n").contains(Substring(worker))
                }
                #expect(again != nil, "the worker did not run again within 10 s of kill -9")
                #expect(await on.secondsUntil(10) { await on.workerOK(f, host, version: "v1") } != nil)
            }
        }

        /// The same bar as the loopback hosts: under load, v2, a broken v3 (refused on its slot), v6
        /// switched on the canary and rolled back by its gate, then `shipit rollback`: no request
        /// fails, none is answered by v3, and after each run exactly what serves is enabled.
        @Test func underLoadNoRequestIsLostAndWhatServesIsEnabled() async throws {
            // v6 answers / but counts errors in its metrics from its start (none of the others
            // does): its ratio is over 0.001 with the first sample, whatever the load.
            let port = DeployFixture.peekPort()
            let f = try on.fixture(
                extra: """
                    rollout:
                      steps: [1, "100%"]
                      bake: 2
                      interval: 0.5
                      gates:
                        - type: http
                          url: "http://{host}:\(port)/metrics.json"
                          json: error_ratio
                          max: 0.001
                    """, port: port)
            try await withCleanup({ await f.cleanUp() }) {
                #expect(try await f.shipit(["deploy", "--from", f.release("v1")]).status == 0)
                let load = try LoadGenerator(targets: f.targets, port: f.port, threads: 2, bad: "v3", hosts: sd.harness)
                let v2 = try await f.shipit(["deploy", "--from", f.release("v2")])
                #expect(v2.status == 0, "\(v2.stdout)\(v2.stderr)")
                try await on.expectServingEnabled(f, "after v2")
                let v3 = try await f.shipit(["deploy", "--from", f.release("v3")])
                #expect(v3.status != 0, "v3 is not ready and must be refused: \(v3.stdout)")
                try await on.expectServingEnabled(f, "after the refused v3")
                let v6 = try await f.shipit(["deploy", "--from", f.release("v6")])
                #expect(
                    v6.status != 0 && v6.stdout.contains("rolled back"),
                    "v6 must be rolled back by its gate: \(v6.stdout)")
                try await on.expectServingEnabled(f, "after v6's automatic rollback")
                let back = try await f.shipit(["rollback"])
                #expect(back.status == 0, "\(back.stdout)\(back.stderr)")
                #expect(back.stdout.components(separatedBy: "supervisor: systemd").count == 2, "\(back.stdout)")
                try await on.expectServingEnabled(f, "after shipit rollback")
                let r = try await load.finish()
                #expect(r.requests > 300, "\(r)")
                #expect(r.failed == 0 && r.bad == 0, "\(r)")
                for h in f.targets { #expect(await on.get(h, f.port).contains("releases-example v1"), "\(h)") }
            }
        }

        /// A host deployed with `supervisor: none` moves to systemd with its next deploy, under load:
        /// the new release starts under its slot unit, the old one is stopped by its pid as before,
        /// the running proxy keeps serving (its unit enabled for the next boot); after a reboot the
        /// serving release is back.
        @Test func aNoneHostMovesToSystemdWithItsNextDeployLosingNothing() async throws {
            let host = sd.hosts[1]
            let f = try on.fixture(supervisor: "none", targets: [host], worker: false)
            try await withCleanup({ await f.cleanUp() }) {
                #expect(try await f.shipit(["deploy", "--from", f.release("v1")]).status == 0)
                let plain = try String(contentsOfFile: f.configFile, encoding: .utf8)
                try plain.replacing("supervisor: none", with: "supervisor: systemd").write(
                    toFile: f.configFile, atomically: true, encoding: .utf8)
                let load = try LoadGenerator(targets: [host], port: f.port, threads: 2, hosts: sd.harness)
                let r = try await f.shipit(["deploy", "--from", f.release("v2")])
                #expect(r.status == 0, "\(r.stdout)\(r.stderr)")
                let result = try await load.finish()
                #expect(result.requests > 100 && result.failed == 0, "\(result)")
                let slot = try await on.activeSlot(f, host)
                let state = try await f.sh(
                    host,
                    "systemctl --user is-active shipit-\(f.app)-slot@\(slot).service; systemctl --user is-enabled shipit-\(f.app)-slot@\(slot).service shipit-\(f.app)-proxy.service"
                )
                #expect(state.split(separator: "\n") == ["active", "enabled", "enabled"], "\(state)")

                try await sd.reboot(host)
                let back = await on.secondsUntil(10) { await on.get(host, f.port).contains("releases-example v2") }
                #expect(back != nil, "the serving release did not answer within 10 s of sshd after the reboot")
            }
        }

        /// Without the traffic switch: the app's own unit; the app a `none` deploy started is
        /// stopped by its launcher (it holds the port), and a crash restarts the unit.
        @Test func withoutTheSwitchTheAppIsOneUnitRestartedOnEachDeploy() async throws {
            let host = sd.hosts[0]
            let f = try DeployFixture(
                hosts: sd.harness, targets: [host], healthDeadline: 5, extraYAML: "supervisor: none",
                deployRoot: "/home/\(sd.user)")
            try await withCleanup({ await f.cleanUp() }) {
                #expect(try await f.shipit(["deploy", "--from", f.release("v1")]).status == 0)
                let plain = try String(contentsOfFile: f.configFile, encoding: .utf8)
                try plain.replacing("supervisor: none", with: "supervisor: systemd").write(
                    toFile: f.configFile, atomically: true, encoding: .utf8)
                for v in ["v2", "v1"] {
                    let r = try await f.shipit(["deploy", "--from", f.release(v)])
                    #expect(r.status == 0, "\(r.stdout)\(r.stderr)")
                    #expect(await on.get(host, f.port).contains("releases-example \(v)"))
                }
                let unit = "shipit-\(f.app).service"
                let state = try await f.sh(
                    host,
                    "systemctl --user is-active \(unit); systemctl --user is-enabled \(unit); pgrep -u \"$(id -un)\" -fc 'app.pl.*\(f.deployTo)/'"
                )
                #expect(state.split(separator: "\n") == ["active", "enabled", "1"], "\(state)")
                try await on.expectRestartedAfterKill(f, host, pidFile: "\(f.deployTo)/shared/app.pid")
            }
        }

        @Test func aHostWithoutSystemdIsRefusedBeforeAnythingChanges() async throws {
            let loopback = TestHosts.current
            let f = try DeployFixture(
                hosts: loopback, targets: [loopback.hosts[0]], extraYAML: "supervisor: systemd")
            try await withCleanup({ await f.cleanUp() }) {
                let r = try await f.shipit(["deploy", "--from", f.release("v1")])
                #expect(r.status != 0)
                #expect(
                    r.stdout.contains("supervisor: systemd: systemd is not this host's init"), "\(r.stdout)\(r.stderr)")
                #expect(
                    on.trimmed(try await f.sh(loopback.hosts[0], "test -e \(f.deployTo) && echo there || echo absent"))
                        == "absent")
            }
        }

        /// `none` on a host that has systemd: plain processes, as before; no unit is written.
        @Test func noneStartsNoUnit() async throws {
            let host = sd.hosts[1]
            let f = try on.fixture(supervisor: "none", targets: [host])
            try await withCleanup({ await f.cleanUp() }) {
                let r = try await f.shipit(["deploy", "--from", f.release("v1")])
                #expect(r.status == 0, "\(r.stdout)\(r.stderr)")
                #expect(await on.get(host, f.port).contains("releases-example v1"))
                let state = try await f.sh(
                    host,
                    "cat \(f.deployTo)/.shipit/supervisor; ls ${XDG_CONFIG_HOME:-$HOME/.config}/systemd/user/ 2>/dev/null | grep -c 'shipit-\(f.app)' || true; grep -c shipit- /proc/$(cat \(f.deployTo)/.shipit/slots/$(cat \(f.deployTo)/.shipit/slots/active).pid)/cgroup || true"
                )
                #expect(state.split(separator: "\n") == ["none", "0", "0"], "\(state)")
            }
        }

        /// Back from systemd to `none`: the next deploy disables the app's units, so no boot starts
        /// them, and the release it deploys runs as a plain process.
        @Test func backToNoneDisablesTheUnits() async throws {
            let host = sd.hosts[1]
            let f = try on.fixture(targets: [host], worker: false)
            try await withCleanup({ await f.cleanUp() }) {
                #expect(try await f.shipit(["deploy", "--from", f.release("v1")]).status == 0)
                #expect(try await on.enabled(f, host).count == 2)
                let plain = try String(contentsOfFile: f.configFile, encoding: .utf8)
                try plain.replacing("supervisor: systemd", with: "supervisor: none").write(
                    toFile: f.configFile, atomically: true, encoding: .utf8)
                let r = try await f.shipit(["deploy", "--from", f.release("v2")])
                #expect(r.status == 0, "\(r.stdout)\(r.stderr)")
                #expect(await on.get(host, f.port).contains("releases-example v2"))
                #expect(try await on.enabled(f, host).isEmpty)
                let slot = try await on.activeSlot(f, host)
                let cgroup = try await f.sh(
                    host, "grep -c shipit- /proc/$(cat \(f.deployTo)/.shipit/slots/\(slot).pid)/cgroup || true")
                #expect(on.trimmed(cgroup) == "0", "the new release runs in a unit: \(cgroup)")
            }
        }

        /// System units installed and run through a `sudo` rule (systemctl and install only), run
        /// as the deploy user; a crash restarts the app there too.
        @Test func systemUnitsThroughSudo() async throws {
            let host = sd.hosts[2]
            let f = try on.fixture(
                supervisor: "{mode: systemd, units: system, sudo: \"sudo -n\"}", targets: [host], worker: false)
            let cleanup = {
                let root = try? await sd.connect(to: host, asRoot: true)
                _ = try? await root?.exec(
                    "systemctl stop 'shipit-\(f.app)-*'; rm -f /etc/systemd/system/shipit-\(f.app)[.@-]* /etc/systemd/system/*.wants/shipit-\(f.app)[.@-]*; systemctl daemon-reload"
                )
                await root?.close()
                await f.cleanUp()
            }
            try await withCleanup(cleanup) {
                let r = try await f.shipit(["deploy", "--from", f.release("v1")])
                #expect(r.status == 0, "\(r.stdout)\(r.stderr)")
                let slot = try await on.activeSlot(f, host)
                let state = try await f.sh(
                    host,
                    "grep -c '^User=\(sd.user)$' /etc/systemd/system/shipit-\(f.app)-slot@.service; systemctl is-enabled shipit-\(f.app)-slot@\(slot).service shipit-\(f.app)-proxy.service; ls ${XDG_CONFIG_HOME:-$HOME/.config}/systemd/user/ 2>/dev/null | grep -c 'shipit-\(f.app)' || true"
                )
                #expect(state.split(separator: "\n") == ["1", "enabled", "enabled", "0"], "\(state)")
                try await on.expectRestartedAfterKill(f, host, pidFile: "\(f.deployTo)/.shipit/slots/\(slot).pid")
            }
        }
    }
}
