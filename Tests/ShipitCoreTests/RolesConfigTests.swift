import Foundation
import ShipitCore
import TestSupport
import Testing

/// `roles:` and `--roles`: parsing, which hosts run what, selection, and the scripts' quoting.
@Suite("roles: config, selection, scripts")
struct RolesConfigTests {
    static let base = """
        app: demo
        hosts:
          - {host: web-1, roles: [web]}
          - {host: web-2, roles: [web, db]}
          - {host: jobs-1, roles: [worker]}
          - {host: both-1, roles: [web, worker]}
        deploy_to: /srv/demo
        start: sh start.sh
        health: {port: 8080}
        ssh: {config: none}
        """

    private func load(_ roles: String, hosts: String? = nil) throws -> DeployConfig {
        var yaml = Self.base + "\n" + roles
        if let hosts {
            yaml = yaml.replacingOccurrences(
                of:
                    "hosts:\n  - {host: web-1, roles: [web]}\n  - {host: web-2, roles: [web, db]}\n  - {host: jobs-1, roles: [worker]}\n  - {host: both-1, roles: [web, worker]}",
                with: hosts)
        }
        return try DeployConfig.parse(yaml: yaml, directory: Local.tempDir("roles"))
    }

    private func error(_ roles: String, hosts: String? = nil) -> String {
        do {
            _ = try load(roles, hosts: hosts)
            return "no error"
        } catch let e as ShipitError { return e.message } catch { return "\(error)" }
    }

    static let worker = """
        roles:
          worker:
            cmd: bundle exec sidekiq -C 'config/sidekiq.yml'
            status: test -f tmp/ready
            stop_signal: SIGQUIT
            stop_timeout: 25
        """

    @Test func aWorkerRoleIsParsedWithItsDefaults() throws {
        let c = try load(Self.worker)
        let w = try #require(c.processRoles.first)
        #expect(c.processRoles.count == 1)
        #expect(
            w.name == "worker" && w.command == "bundle exec sidekiq -C 'config/sidekiq.yml'"
                && w.status == "test -f tmp/ready")
        #expect(w.stopSignal == "QUIT" && w.stopTimeout == 25 && w.settle == 1)
        #expect(w.log == "/srv/demo/shared/log/worker.log")
        let r = c.hostRoles
        #expect(r.runsApp("web-1") && r.runsApp("web-2") && r.runsApp("both-1"))
        #expect(!r.runsApp("jobs-1"), "every role of jobs-1 is a process role")
        #expect(r.processes(on: "jobs-1").map(\.name) == ["worker"] && r.processes(on: "web-1").isEmpty)
        #expect(r.processes(on: "both-1").map(\.name) == ["worker"])
        // A host listed without roles is web.
        #expect(HostRoles().roles(of: "x") == ["web"] && HostRoles().runsApp("x"))
    }

    @Test func aRolesLogsMayComeFromJournaldOrAFile() throws {
        let c = try load("roles:\n  worker:\n    cmd: w\n    logs: {command: journalctl --user -u worker -o short-iso}")
        #expect(c.processRoles.first?.logSource == .command("journalctl --user -u worker -o short-iso"))
        let d = try load("roles:\n  worker:\n    cmd: w\n    logs: {path: shared/log/sidekiq.log}")
        #expect(d.processRoles.first?.logSource == .file("/srv/demo/shared/log/sidekiq.log"))
        #expect(
            error("roles:\n  worker:\n    cmd: w\n    logs: {errors: x}").contains(
                "roles.worker.logs: expected one of path, command, container"))
        #expect(error("roles:\n  worker:\n    cmd: w\n    logs: {container: true}").contains("for 'strategy: image'"))
    }

    @Test func badRolesAreRefusedNamingTheField() {
        #expect(error("roles:\n  worker: {status: x}").contains("roles.worker: missing 'cmd'"))
        #expect(error("roles:\n  worker: {cmd: a, start: b}").contains("give 'cmd' or 'start'"))
        #expect(
            error("roles:\n  worker: {cmd: a, stop_signal: BOGUS}").contains(
                "roles.worker.stop_signal: expected one of"))
        #expect(error("roles:\n  worker: {cmd: a, stop_timeout: -1}").contains("roles.worker.stop_timeout"))
        #expect(error("roles:\n  cron: {cmd: a}").contains("roles.cron: no host has the role 'cron'"))
        #expect(error("roles:\n  'bad;name': {cmd: a}").contains("roles.bad;name"))
        #expect(error("roles:\n  worker: {cmd: a, log: ../../etc/x}").contains("roles.worker.log"))
        #expect(error("roles:\n  worker: {cmd: a, color: red}").contains("roles.worker.color: unknown key"))
    }

    @Test func rolesSelectsHostsAndADeployNeverSplitsOne() throws {
        var c = try load(Self.worker)
        try c.select(roles: "web", wholeHosts: false)
        #expect(c.hosts == ["web-1", "web-2", "both-1"])

        var d = try load(Self.worker)
        #expect(throws: ShipitError.self) { try d.select(roles: "web", wholeHosts: true) }
        do { try d.select(roles: "worker", wholeHosts: true) } catch let e as ShipitError {
            #expect(e.message.contains("host both-1 also has the role(s) web"))
        }
        var e = try load(Self.worker)
        try e.select(roles: "web, worker,db", wholeHosts: true)
        #expect(e.hosts == ["web-1", "web-2", "jobs-1", "both-1"])
        var f = try load(Self.worker)
        #expect(throws: ShipitError.self) { try f.select(roles: "nope", wholeHosts: false) }
        #expect(throws: ShipitError.self) { try f.select(roles: " , ", wholeHosts: false) }
    }

    @Test func theSwitchRestartsTheHostsRolesAndAWorkerOnlyHostStartsNoApp() throws {
        let c = try load(Self.worker)
        let s = SymlinkStrategy(config: c)
        let jobs = s.switchTo(releaseID: "r2", host: "jobs-1", historyLine: "h").rendered
        #expect(jobs.contains("START=''"), "no app on a worker-only host")
        #expect(
            jobs.contains(
                "role_stop worker QUIT 250; role_start worker 'bundle exec sidekiq -C '\\''config/sidekiq.yml'\\''' /srv/demo/shared/log/worker.log"
            ))
        let web = s.switchTo(releaseID: "r2", host: "web-1", historyLine: "h").rendered
        #expect(web.contains("START='sh start.sh'") && !web.contains("role_start"))
        #expect(s.switchTo(releaseID: "r2", host: "both-1", historyLine: "h").rendered.contains("role_start worker"))
        #expect(
            s.retreat(releaseID: "r2", host: "jobs-1", historyLine: "h").rendered.contains("role_stop worker QUIT 250"))
        let check = try #require(s.roleCheck(host: "jobs-1", deadline: 10, interval: 0.2))
        #expect(
            check.rendered.contains("DEADLINE=100; INTERVAL=0.2; STEP=2")
                && check.rendered.contains("role_check process worker 'test -f tmp/ready' 10"))
        #expect(s.roleCheck(host: "web-1", deadline: 10, interval: 0.2) == nil)
    }

    @Test func theRoleScriptsAreValidShell() async throws {
        let s = SymlinkStrategy(config: try load(Self.worker))
        for c in [
            s.switchTo(releaseID: "r2", host: "both-1", historyLine: "h"),
            s.retreat(releaseID: "r2", host: "jobs-1", historyLine: "h"),
            s.roleCheck(host: "jobs-1", deadline: 1, interval: 0.1)!,
        ] {
            let file = Local.tempDir("roles-sh") + "/script.sh"
            try c.rendered.write(toFile: file, atomically: true, encoding: .utf8)
            for shell in ["/bin/sh", "/bin/bash"] {
                let (status, out) = try await LocalProcess.runStatusDetached([shell, "-n", file])
                #expect(status == 0, "\(shell): \(out)")
            }
        }
    }
}
