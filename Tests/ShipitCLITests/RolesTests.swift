import Foundation
import ShipitCore
import TestSupport
import Testing

/// Roles (issue 21): the web app on two hosts, releases-example's worker on the third, deployed and
/// rolled back together as one release; `--roles worker` for the worker alone.
@Suite("roles: web and worker")
struct RolesTests {
    let hosts = TestHosts.current

    static let workerRole = """
        roles:
          worker:
            cmd: sh worker.sh
            status: sh worker.sh status
            stop_timeout: 5
        """

    func fixture(_ extra: String = RolesTests.workerRole) throws -> DeployFixture {
        let t = hosts.hosts
        return try DeployFixture(
            healthDeadline: 5, extraYAML: extra, roles: [t[0]: ["web"], t[1]: ["web"], t[2]: ["worker"]])
    }

    /// The worker's heartbeat on `host`: "<version> <pid> <jobs>" ("" when there is none).
    func heartbeat(_ f: DeployFixture, _ host: String) async throws -> String {
        try await f.sh(host, "cat \(f.deployTo)/shared/spool/worker.heartbeat 2>/dev/null || true").trimmingCharacters(
            in: .whitespacesAndNewlines)
    }

    func workerPid(_ f: DeployFixture, _ host: String) async throws -> String {
        try await f.sh(host, "cat \(f.deployTo)/.shipit/roles/worker.pid 2>/dev/null || true").trimmingCharacters(
            in: .whitespacesAndNewlines)
    }

    /// Waits until the heartbeat on `host` is `version`'s (the worker beats every 0.2 s).
    func waitForWorker(_ f: DeployFixture, _ host: String, _ version: String) async throws -> String {
        for _ in 0..<50 {
            let b = try await heartbeat(f, host)
            if b.hasPrefix(version + " ") { return b }
            try await Task.sleep(for: .milliseconds(100))
        }
        return try await heartbeat(f, host)
    }

    /// A job dropped into the worker host's spool, and what the worker made of it.
    func process(_ f: DeployFixture, _ host: String, job: String) async throws -> String {
        _ = try await f.sh(
            host, "mkdir -p \(f.deployTo)/shared/spool/in && echo \(job) > \(f.deployTo)/shared/spool/in/\(job)")
        for _ in 0..<50 {
            let out = try await f.sh(host, "cat \(f.deployTo)/shared/spool/done/\(job) 2>/dev/null || true")
            if out.contains("processed by") { return out.trimmingCharacters(in: .whitespacesAndNewlines) }
            try await Task.sleep(for: .milliseconds(100))
        }
        return ""
    }

    @Test func webAndWorkerDeployAndRollBackTogether() async throws {
        let f = try fixture(Self.workerRole + "\nlogs: {path: shared/app.log}")
        let (web1, web2, worker) = (f.targets[0], f.targets[1], f.targets[2])
        try await withCleanup({ await f.cleanUp() }) {
            let v1 = try await f.shipit(["deploy", "--from", f.release("v1")])
            #expect(v1.status == 0, "\(v1.stdout)\(v1.stderr)")
            #expect(v1.stdout.contains("restarted worker"), "\(v1.stdout)")
            for h in [web1, web2] { #expect(try await f.served(h) == "hello from releases-example v1") }
            // The worker host runs the worker only: no app on the app's port.
            #expect((try? await f.served(worker)) == nil)
            #expect(try await f.sh(worker, "ls \(f.deployTo)/shared/app.pid 2>/dev/null || echo none").contains("none"))
            #expect(try await waitForWorker(f, worker, "v1").hasPrefix("v1 "))
            #expect(try await process(f, worker, job: "job1").hasSuffix("processed by v1"))
            let v1pid = try await workerPid(f, worker)
            let v1ID = try await f.currentRelease(worker)

            // v2: the worker is stopped gracefully (its job loop ends) and restarted from v2.
            let v2 = try await f.shipit(["deploy", "--from", f.release("v2")])
            #expect(v2.status == 0, "\(v2.stdout)\(v2.stderr)")
            let v2ID = try await f.currentRelease(worker)
            #expect(v2ID != v1ID)
            for h in [web1, web2] { #expect(try await f.currentRelease(h) == v2ID) }
            #expect(try await waitForWorker(f, worker, "v2").hasPrefix("v2 "))
            #expect(try await workerPid(f, worker) != v1pid)
            let log = try await f.sh(worker, "cat \(f.deployTo)/shared/log/worker.log")
            #expect(log.contains("worker v1: stopping after"), "the v1 worker stopped on SIGTERM: \(log)")
            #expect(!v2.stdout.contains("killed"))
            #expect(try await process(f, worker, job: "job2").hasSuffix("processed by v2"))

            // `shipit logs`: the app's log on the web hosts and the worker's on its host, merged.
            let logs = try await f.shipit(["logs", "--since", "5m"])
            #expect(logs.status == 0, "\(logs.stdout)\(logs.stderr)")
            #expect(
                logs.stdout.contains("\(worker) | ") && logs.stdout.contains("worker v1: stopping after"),
                "\(logs.stdout)")
            #expect(logs.stdout.contains("\(web1) | ") && logs.stdout.contains("\(web2) | "), "\(logs.stdout)")
            let workerLogs = try await f.shipit(["logs", "--since", "5m", "--role", "worker", "--grep", "processed"])
            #expect(
                !workerLogs.stdout.contains(web1) && workerLogs.stdout.contains("worker v2: processed job2"),
                "\(workerLogs.stdout)")
            let webLogs = try await f.shipit(["logs", "--since", "5m", "--role", "web"])
            #expect(!webLogs.stdout.contains(worker) && webLogs.stdout.contains(web1), "\(webLogs.stdout)")

            // --follow: the worker host's worker log, beside the web hosts' app logs, until SIGINT.
            let p = ShipitBinary(hosts: hosts).start([
                "logs", "--config", f.configFile, "--follow", "--grep", "job-f|GET /follow-me",
            ])
            try p.run()
            for _ in 0..<100 {
                let n = try await f.sh(worker, "pgrep -u \(hosts.user) -f '[t]ail -n 0 -F \(f.deployTo)' | wc -l")
                if Int(n.trimmingCharacters(in: .whitespacesAndNewlines)) ?? 0 > 0 { break }
                try await Task.sleep(for: .milliseconds(50))
            }
            try await Task.sleep(for: .milliseconds(300))
            _ = try? await hosts.httpGet(web1, port: f.port, path: "/follow-me")
            #expect(try await process(f, worker, job: "job-f").hasSuffix("processed by v2"))
            let seen = await ShipitBinary.read(p.standardOutput as! Pipe, until: ["processed job-f"], timeout: 20)
            p.stopIfRunning(SIGINT)
            #expect(await ShipitBinary.wait(p) == 0)
            #expect(
                seen.contains("\(worker) | ") && seen.contains("processed job-f") && seen.contains("\(web1) | "),
                "\(seen)")

            // v7's worker never passes its status check: web and worker both go back to v2.
            let v7 = try await f.shipit(["deploy", "--from", f.release("v7")])
            #expect(v7.status == ShipitExit.rolledBack.rawValue, "\(v7.stdout)\(v7.stderr)")
            #expect(v7.stdout.contains("role worker: status exited 1"), "\(v7.stdout)")
            for h in f.targets { #expect(try await f.currentRelease(h) == v2ID) }
            for h in [web1, web2] { #expect(try await f.served(h) == "hello from releases-example v2") }
            #expect(try await waitForWorker(f, worker, "v2").hasPrefix("v2 "))
            #expect(try await process(f, worker, job: "job3").hasSuffix("processed by v2"))
            let verify = try await f.shipit(["verify"])
            #expect(verify.status == 0, "\(verify.stdout)\(verify.stderr)")
            #expect(verify.stdout.contains("worker ok"), "\(verify.stdout)")

            // A worker that died is what status and verify report.
            _ = try await f.sh(worker, "kill -9 -- -$(cat \(f.deployTo)/.shipit/roles/worker.pid)")
            let dead = try await f.shipit(["status"])
            #expect(dead.status == ShipitExit.unhealthy.rawValue, "\(dead.stdout)")
            #expect(
                dead.stdout.contains("worker FAIL") && dead.stdout.contains("role worker: its process is not running"),
                "\(dead.stdout)")
        }
    }

    /// With the traffic switch: the web hosts warm each release on a slot behind their proxy; the
    /// worker host has no proxy, its worker restarts after the switch; v7's worker fails and both
    /// go back (the web hosts by a traffic switch to their warm standby).
    @Test func behindTheTrafficSwitchTheWorkerIsRestartedAfterTheSwitch() async throws {
        let f = try fixture(Self.workerRole + "\ntraffic: {proxy: nginx, drain: 1}")
        let (web1, web2, worker) = (f.targets[0], f.targets[1], f.targets[2])
        try await withCleanup({ await f.cleanUp() }) {
            let v1 = try await f.shipit(["deploy", "--from", f.release("v1")])
            #expect(v1.status == 0, "\(v1.stdout)\(v1.stderr)")
            #expect(!v1.stdout.contains("\(worker) warm"), "no slot on the worker host: \(v1.stdout)")
            #expect(
                try await f.sh(worker, "ls \(f.deployTo)/.shipit/proxy 2>/dev/null || echo no-proxy").contains(
                    "no-proxy"))
            #expect(try await waitForWorker(f, worker, "v1").hasPrefix("v1 "))
            let v2 = try await f.shipit(["deploy", "--from", f.release("v2")])
            #expect(v2.status == 0, "\(v2.stdout)\(v2.stderr)")
            let v2ID = try await f.currentRelease(worker)
            #expect(try await waitForWorker(f, worker, "v2").hasPrefix("v2 "))

            let v7 = try await f.shipit(["deploy", "--from", f.release("v7")])
            #expect(v7.status == ShipitExit.rolledBack.rawValue, "\(v7.stdout)\(v7.stderr)")
            #expect(v7.stdout.contains("role worker: status exited 1"), "\(v7.stdout)")
            for h in f.targets { #expect(try await f.currentRelease(h) == v2ID) }
            for h in [web1, web2] { #expect(try await f.served(h) == "hello from releases-example v2") }
            #expect(!v7.stdout.contains("\(web1) rollback warm"), "v2 was still warm: \(v7.stdout)")
            #expect(try await waitForWorker(f, worker, "v2").hasPrefix("v2 "))
            let status = try await f.shipit(["status"])
            #expect(status.status == 0, "\(status.stdout)\(status.stderr)")

            // Maintenance is the proxies' answer: the worker host has none and is left as it is.
            let on = try await f.shipit(["maintenance", "on"])
            #expect(on.status == 0, "\(on.stdout)\(on.stderr)")
            #expect(on.stdout.contains("\(worker): runs no app"), "\(on.stdout)")
            #expect(
                try await f.sh(worker, "ls \(f.deployTo)/.shipit/proxy 2>/dev/null || echo no-proxy").contains(
                    "no-proxy"))
            #expect(try await f.shipit(["maintenance", "off"]).status == 0)
        }
    }

    @Test func rolesWorkerDeploysAndRollsBackTheWorkerAlone() async throws {
        let f = try fixture()
        let (web1, web2, worker) = (f.targets[0], f.targets[1], f.targets[2])
        try await withCleanup({ await f.cleanUp() }) {
            #expect(try await f.shipit(["deploy", "--from", f.release("v1")]).status == 0)
            let v1ID = try await f.currentRelease(web1)
            let webHistory = try await f.sh(web1, "cat \(f.deployTo)/.shipit/history")

            let v2 = try await f.shipit(["deploy", "--roles", "worker", "--from", f.release("v2")])
            #expect(v2.status == 0, "\(v2.stdout)\(v2.stderr)")
            #expect(
                !v2.stdout.contains(web1) && !v2.stdout.contains(web2), "the web hosts are not touched: \(v2.stdout)")
            let v2ID = try await f.currentRelease(worker)
            #expect(v2ID != v1ID)
            #expect(try await waitForWorker(f, worker, "v2").hasPrefix("v2 "))
            for h in [web1, web2] {
                #expect(try await f.currentRelease(h) == v1ID)
                #expect(try await f.served(h) == "hello from releases-example v1")
            }
            #expect(try await f.sh(web1, "cat \(f.deployTo)/.shipit/history") == webHistory)

            // A failing worker alone: rolled back on the worker host, the web hosts never asked.
            let v7 = try await f.shipit(["deploy", "--roles", "worker", "--from", f.release("v7")])
            #expect(v7.status == ShipitExit.rolledBack.rawValue, "\(v7.stdout)\(v7.stderr)")
            #expect(try await f.currentRelease(worker) == v2ID)

            let back = try await f.shipit(["rollback", "--roles", "worker"])
            #expect(back.status == 0, "\(back.stdout)\(back.stderr)")
            #expect(try await f.currentRelease(worker) == v1ID)
            #expect(try await waitForWorker(f, worker, "v1").hasPrefix("v1 "))
            #expect(try await f.sh(web1, "cat \(f.deployTo)/.shipit/history") == webHistory)

            let status = try await f.shipit(["status", "--roles", "worker"])
            #expect(status.stdout.contains(worker) && !status.stdout.contains(web1), "\(status.stdout)")
            let exec = try await f.shipit([
                "exec", "--roles", "worker", "--", "cat \(f.deployTo)/shared/spool/worker.heartbeat",
            ])
            #expect(exec.status == 0, "\(exec.stdout)\(exec.stderr)")
            #expect(exec.stdout.contains("\(worker) | v1 ") && !exec.stdout.contains(web1), "\(exec.stdout)")
            let triage = try await f.shipit(["triage", "--roles", "worker"])
            #expect(triage.stdout.contains("worker ok") && !triage.stdout.contains(web1 + " "), "\(triage.stdout)")
        }
    }

    @Test func rolesThatWouldSplitAHostOrNameNothingAreRefusedBeforeAnyHostIsTouched() async throws {
        let t = hosts.hosts
        let f = try DeployFixture(
            extraYAML: Self.workerRole, roles: [t[0]: ["web", "worker"], t[1]: ["web"], t[2]: ["web"]])
        try await withCleanup({ await f.cleanUp() }) {
            let split = try await f.shipit(["deploy", "--roles", "worker", "--from", f.release("v1")])
            #expect(split.status == ShipitExit.usage.rawValue, "\(split.stdout)\(split.stderr)")
            #expect(split.stderr.contains("host \(t[0]) also has the role(s) web"), "\(split.stderr)")
            let unknown = try await f.shipit(["deploy", "--roles", "jobs", "--from", f.release("v1")])
            #expect(unknown.stderr.contains("--roles: no host has the role 'jobs'"), "\(unknown.stderr)")
            #expect(try await f.sh(t[0], "ls \(f.deployTo) 2>/dev/null || echo absent").contains("absent"))

            // A host with web and worker runs both, restarted with each release.
            let v1 = try await f.shipit(["deploy", "--from", f.release("v1")])
            #expect(v1.status == 0, "\(v1.stdout)\(v1.stderr)")
            #expect(try await f.served(t[0]) == "hello from releases-example v1")
            #expect(try await waitForWorker(f, t[0], "v1").hasPrefix("v1 "))
            #expect(try await heartbeat(f, t[1]) == "")
        }
    }
}

/// Roles with the image strategy: the worker is a container of the release's image
/// (`<app>-worker`, the role's command), recreated with each release and checked inside it.
@Suite("roles: image strategy")
struct ImageRolesTests {
    let hosts = TestHosts.current

    @Test func aWorkerContainerFollowsTheReleaseAndItsFailureRollsBackWebToo() async throws {
        let t = hosts.hosts
        // The demo images have no worker: a busybox loop stands in. Its status needs
        // /www/health/ready, which v3's image lacks: v3's worker never gets healthy.
        let f = try ImageFixture(
            extraYAML: """
                roles:
                  worker:
                    cmd: trap 'echo worker stopping; exit 0' TERM; echo worker up; while :; do cat /www/index.html > /beat; sleep 0.2; done
                    status: test -f /www/health/ready && cat /beat
                    stop_timeout: 3
                """, roles: [t[0]: ["web"], t[1]: ["web"], t[2]: ["worker"]])
        try await withCleanup({ await f.cleanUp() }) {
            let v1 = try await f.shipit(["deploy", "--tag", "v1"])
            #expect(v1.status == 0, "\(v1.stdout)\(v1.stderr)")
            let worker = "\(f.app)-worker"
            #expect(
                try await f.podman(t[2], "exec \(worker) sh -c 'cat /beat'") == "hello from releases-example image v1")
            // The worker host runs no app container; the web hosts no worker.
            #expect(
                try await f.podman(t[2], "ps -a --filter label=shipit.app=\(f.app) --format '{{.Names}}'") == worker)
            #expect(
                try await f.podman(
                    t[0], "ps -a --filter label=shipit.role=worker --filter label=shipit.app=\(f.app) -q") == "")
            #expect(try await f.served(t[0]) == "hello from releases-example image v1")

            let v2 = try await f.shipit(["deploy", "--tag", "v2"])
            #expect(v2.status == 0, "\(v2.stdout)\(v2.stderr)")
            // The new container beats every 0.2 s; an exec into it can fail while the machine is loaded.
            var beat = ""
            for _ in 0..<50 where beat != "hello from releases-example image v2" {
                beat = (try? await f.podman(t[2], "exec \(worker) sh -c 'cat /beat' 2>&1")) ?? ""
                if beat != "hello from releases-example image v2" { try await Task.sleep(for: .milliseconds(200)) }
            }
            #expect(beat == "hello from releases-example image v2", "\(beat)")
            #expect(!v2.stdout.contains("killed"), "the worker stopped on SIGTERM: \(v2.stdout)")

            let v3 = try await f.shipit(["deploy", "--tag", "v3"])
            #expect(v3.status == ShipitExit.rolledBack.rawValue, "\(v3.stdout)\(v3.stderr)")
            #expect(v3.stdout.contains("role worker: status exited 1"), "\(v3.stdout)")
            #expect(
                try await f.podman(t[2], "exec \(worker) sh -c 'cat /beat'") == "hello from releases-example image v2")
            for h in [t[0], t[1]] { #expect(try await f.served(h) == "hello from releases-example image v2") }

            let status = try await f.shipit(["status"])
            #expect(status.status == 0, "\(status.stdout)\(status.stderr)")
            #expect(status.stdout.contains("worker ok"), "\(status.stdout)")
            let logs = try await f.shipit(["logs", "--role", "worker", "--since", "5m"])
            #expect(
                logs.stdout.contains("\(t[2]) | ") && logs.stdout.contains("worker up"), "\(logs.stdout)\(logs.stderr)")
        }
    }
}
