import Foundation
import ShipitCore
import TestSupport
import Testing

/// The traffic switch on real hosts: a managed nginx per host in front of two slots, under load.
@Suite("traffic switch: no request lost, warm standby, instant rollback")
struct TrafficSwitchTests {
    static let traffic = "traffic: {proxy: nginx, drain: 1}"

    func fixture(_ extra: String = traffic) throws -> DeployFixture {
        try DeployFixture(healthDeadline: 2, extraYAML: extra)
    }

    /// What the proxy serves on a host's public port (through an SSH tunnel).
    func served(_ f: DeployFixture, _ host: String) async throws -> String {
        try await f.served(host).trimmingCharacters(in: .whitespacesAndNewlines)
    }

    @Test func deployFailedDeployAndRollbackUnderLoadLoseNothingAndTheBrokenReleaseServesNoOne() async throws {
        let f = try fixture()
        try await withCleanup({ await f.cleanUp() }) {
            let v1 = try await f.shipit(["deploy", "--from", f.release("v1")])
            #expect(v1.status == 0, "\(v1.stdout)\(v1.stderr)")
            let load = try LoadGenerator(targets: f.targets, port: f.port, bad: "v3")
            let v2 = try await f.shipit(["deploy", "--from", f.release("v2")])
            let v3 = try await f.shipit(["deploy", "--from", f.release("v3")])
            let back = try await f.shipit(["rollback"])
            let r = try await load.finish()
            #expect(v2.status == 0, "\(v2.stdout)\(v2.stderr)")
            // v3 fails its smoke test on the idle slot: nothing was switched.
            #expect(v3.status == ShipitExit.failure.rawValue, "\(v3.stdout)")
            #expect(v3.stdout.contains("FAILED in warm; no host was switched"))
            #expect(back.status == 0, "\(back.stdout)\(back.stderr)")
            #expect(r.failed == 0, "\(r.errors)")
            #expect(r.bad == 0)
            #expect(r.versions["v3"] == nil)
            #expect((r.versions["v1"] ?? 0) > 0 && (r.versions["v2"] ?? 0) > 0, "\(r.versions)")
            #expect(r.requests > 300)
            for h in f.targets { #expect(try await served(f, h) == "hello from releases-example v1") }
        }
    }

    @Test func rollbackToTheWarmStandbyIsATrafficSwitchOnly() async throws {
        let f = try fixture()
        try await withCleanup({ await f.cleanUp() }) {
            #expect(try await f.shipit(["deploy", "--from", f.release("v1")]).status == 0)
            #expect(try await f.shipit(["deploy", "--from", f.release("v2")]).status == 0)
            let h = f.targets[0]
            // v1 still runs on the slot that served it.
            let status = try await f.shipit(["status", "--json"])
            let json = try #require(try JSONSerialization.jsonObject(with: Data(status.stdout.utf8)) as? [String: Any])
            let host = try #require((json["hosts"] as? [[String: Any]])?.first { $0["host"] as? String == h })
            let standbySlot = try #require(host["standbySlot"] as? Int)
            #expect(host["slot"] as? Int != standbySlot)
            #expect((host["standby"] as? String)?.isEmpty == false)
            let pidBefore = try await f.sh(h, "cat \(f.deployTo)/.shipit/slots/\(standbySlot).pid")
            // A rollback to the release that already serves changes nothing: no restart, and the
            // standby is not replaced by a second copy of it.
            let serving = try await f.sh(h, "ls \(f.deployTo)/releases | sort | tail -1").trimmingCharacters(
                in: .whitespacesAndNewlines)
            let servingPid = try await f.sh(
                h, "cat \(f.deployTo)/.shipit/slots/\(try #require(host["slot"] as? Int)).pid")
            let same = try await f.shipit(["rollback", "--to", serving])
            #expect(same.status == 0, "\(same.stdout)\(same.stderr)")
            #expect(same.stdout.contains("already serves on every host"), "\(same.stdout)")
            #expect(
                try await f.sh(h, "cat \(f.deployTo)/.shipit/slots/\(try #require(host["slot"] as? Int)).pid")
                    == servingPid)
            #expect(try await served(f, h) == "hello from releases-example v2")
            let back = try await f.shipit(["rollback", "--json"])
            #expect(back.status == 0, "\(back.stdout)\(back.stderr)")
            // No restart: the same process serves, now with the traffic.
            #expect(try await f.sh(h, "cat \(f.deployTo)/.shipit/slots/\(standbySlot).pid") == pidBefore)
            #expect(try await served(f, h) == "hello from releases-example v1")
            // And v2 is now the warm standby: rolling forward again is instant too.
            let again = try await f.shipit([
                "rollback", "--to",
                try await f.sh(h, "ls \(f.deployTo)/releases | sort | tail -1").trimmingCharacters(
                    in: .whitespacesAndNewlines),
            ])
            #expect(again.status == 0, "\(again.stdout)")
            #expect(try await served(f, h) == "hello from releases-example v2")
        }
    }

    @Test func aStandbyThatDiedIsStartedAgainOnItsSlotSmokeTestedThenSwitched() async throws {
        let f = try fixture()
        try await withCleanup({ await f.cleanUp() }) {
            #expect(try await f.shipit(["deploy", "--from", f.release("v1")]).status == 0)
            #expect(try await f.shipit(["deploy", "--from", f.release("v2")]).status == 0)
            let h = f.targets[1]
            _ = try await f.sh(
                h,
                "for s in \(f.deployTo)/.shipit/slots/*.pid; do [ \"$(basename $s .pid)\" = \"$(cat \(f.deployTo)/.shipit/slots/active)\" ] || kill $(cat $s); done"
            )
            let back = try await f.shipit(["rollback"])
            #expect(back.status == 0, "\(back.stdout)\(back.stderr)")
            for t in f.targets { #expect(try await served(f, t) == "hello from releases-example v1") }
        }
    }

    @Test func theProxyIsStartedWhenItIsNotRunningAndAnInvalidConfigIsRefusedInPreflight() async throws {
        let wrapper = Local.tempDir("bad-nginx") + "/nginx"
        try
            "#!/bin/sh\ncase \" $* \" in *\" -t \"*) echo 'nginx: [emerg] unexpected \"}\" in upstream.conf:3' >&2; exit 1;; esac\nexec /usr/sbin/nginx \"$@\"\n"
            .write(toFile: wrapper, atomically: true, encoding: .utf8)
        try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: wrapper)
        let f = try fixture()
        try await withCleanup({ await f.cleanUp() }) {
            #expect(try await f.shipit(["deploy", "--from", f.release("v1")]).status == 0)
            // The proxy died: the next pre-flight starts it again.
            let h = f.targets[0]
            _ = try await f.sh(h, "kill $(cat \(f.deployTo)/.shipit/proxy/nginx.pid); sleep 0.3")
            let v2 = try await f.shipit(["deploy", "--from", f.release("v2")])
            #expect(v2.status == 0, "\(v2.stdout)\(v2.stderr)")
            #expect(try await served(f, h) == "hello from releases-example v2")
            // A changed proxy setup (here: another nginx binary) that nginx -t refuses: pre-flight
            // fails, nothing changes, the running proxy keeps its config.
            var yaml = try String(contentsOfFile: f.configFile, encoding: .utf8)
            yaml = yaml.replacingOccurrences(
                of: Self.traffic, with: "traffic: {proxy: nginx, drain: 1, nginx: \(wrapper)}")
            try yaml.write(toFile: f.configFile, atomically: true, encoding: .utf8)
            let bad = try await f.shipit(["deploy", "--from", f.release("v1")])
            #expect(bad.status == ShipitExit.preflightFailed.rawValue, "\(bad.stdout)")
            #expect(bad.stdout.contains("proxy config invalid (nginx -t)"))
            #expect(try await served(f, h) == "hello from releases-example v2")
        }
        // A first deploy with a proxy config nginx -t refuses: refused in pre-flight, no host touched.
        let g = try fixture("traffic: {proxy: nginx, drain: 1, nginx: \(wrapper)}")
        try await withCleanup({ await g.cleanUp() }) {
            let bad = try await g.shipit(["deploy", "--from", g.release("v1")])
            #expect(bad.status == ShipitExit.preflightFailed.rawValue, "\(bad.stdout)")
            #expect(bad.stdout.contains("proxy config invalid (nginx -t)"))
            for h in g.targets { #expect(try await g.currentRelease(h) == "") }
        }
    }

    @Test func maintenanceModeAnswers503WithRetryAfterAndIsRecorded() async throws {
        let f = try fixture()
        try await withCleanup({ await f.cleanUp() }) {
            #expect(try await f.shipit(["deploy", "--from", f.release("v1")]).status == 0)
            let on = try await f.shipit(["maintenance", "on", "--message", "Back at 03:30 UTC"])
            #expect(on.status == 0, "\(on.stdout)\(on.stderr)")
            let h = f.targets[0]
            let s = try await f.hosts.connect(to: h)
            let raw = try await s.tunnelRequest(
                host: h, port: f.port, request: Data("GET / HTTP/1.0\r\nHost: x\r\n\r\n".utf8), timeout: 3)
            await s.close()
            let r = try HTTPResponse.parse(raw)
            #expect(r.status == 503)
            #expect(r.headers["retry-after"] != nil)
            #expect(r.body.contains("Back at 03:30 UTC"))
            let status = try await f.shipit(["status"])
            #expect(status.stdout.contains("maintenance"), "\(status.stdout)")
            #expect(try await f.shipit(["maintenance", "off"]).status == 0)
            #expect(try await served(f, h) == "hello from releases-example v1")
            let changes = try await f.shipit(["changes", "--since", "1h"])
            #expect(changes.stdout.contains("maintenance on"), "\(changes.stdout)")
            #expect(changes.stdout.contains("maintenance off"))
        }
    }
}

/// `mode: system`: an nginx shipit does not run (here one the test starts on every host as the
/// deploy user, standing in for the distribution's), whose config includes the upstream file
/// shipit writes; shipit checks it with the configured test command and reloads it with the
/// configured reload command.
@Suite("traffic switch: system nginx")
struct SystemProxyTests {
    @Test func deploysAndRollsBackThroughAnExistingNginx() async throws {
        let system = SystemNginx()
        let f = try DeployFixture(extraYAML: system.yaml())
        // The system nginx listens on the fixture's public port; the slots are the next two.
        let publicPort = f.port
        try await withCleanup({
            for h in f.targets { _ = try? await f.sh(h, system.tearDown) }
            await f.cleanUp()
        }) {
            for h in f.targets {
                #expect(try await f.sh(h, system.setUp(host: h, port: publicPort)).contains("started"))
            }
            #expect(try await f.shipit(["deploy", "--from", f.release("v1")]).status == 0)
            let load = try LoadGenerator(targets: f.targets, port: publicPort, bad: "v3")
            let v2 = try await f.shipit(["deploy", "--from", f.release("v2")])
            #expect(v2.status == 0, "\(v2.stdout)")
            let v3 = try await f.shipit(["deploy", "--from", f.release("v3")])
            #expect(v3.status == ShipitExit.failure.rawValue, "\(v3.stdout)")
            let back = try await f.shipit(["rollback"])
            #expect(back.status == 0, "\(back.stdout)")
            let r = try await load.finish()
            #expect(r.failed == 0, "\(r.errors)")
            #expect(r.bad == 0)
            for h in f.targets {
                #expect(try await f.served(h).contains("v1"))
                #expect(try await f.sh(h, "cat \(system.prefix)/upstream.conf").contains("\(h):"))
            }
        }
    }
}

/// The image strategy behind the traffic switch: each slot gets its own container (published on
/// the slot's port), started and smoke-tested before the proxy sends it a request; the previous
/// container keeps running as the warm standby; no stop-before-start.
@Suite("traffic switch: image strategy")
struct ImageTrafficTests {
    @Test func imagesDeployFailAndRollBackUnderLoadWithoutLosingARequest() async throws {
        let f = try ImageFixture(extraYAML: "traffic: {proxy: nginx, drain: 1}")
        try await withCleanup({ await f.cleanUp() }) {
            let v1 = try await f.shipit(["deploy", "--tag", "v1"])
            #expect(v1.status == 0, "\(v1.stdout)\(v1.stderr)")
            let load = try LoadGenerator(targets: f.targets, port: f.port, bad: "v3")
            let v2 = try await f.shipit(["deploy", "--tag", "v2"])
            let v3 = try await f.shipit(["deploy", "--tag", "v3"])
            let h = f.targets[0]
            // v1's container still runs, on the other slot, while v2 serves.
            let running = try await f.podman(h, "ps --filter label=shipit.app=\(f.app) --format '{{.Names}}'")
            let back = try await f.shipit(["rollback"])
            let r = try await load.finish()
            #expect(v2.status == 0, "\(v2.stdout)")
            // The container starts at the end of the staging script (no migrations, no pre-switch
            // hook): one exec channel fewer per host; the warm step records it and probes the slot.
            #expect(v2.stdout.contains("warm ok: started with staging"), "\(v2.stdout)")
            #expect(v3.status == ShipitExit.failure.rawValue, "\(v3.stdout)")
            #expect(v3.stdout.contains("FAILED in warm; no host was switched"), "\(v3.stdout)")
            #expect(running.split(separator: "\n").count == 2, "\(running)")
            #expect(back.status == 0, "\(back.stdout)")
            #expect(r.failed == 0, "\(r.errors)")
            #expect(r.bad == 0)
            #expect((r.versions["v1"] ?? 0) > 0 && (r.versions["v2"] ?? 0) > 0, "\(r.versions)")
            for t in f.targets { #expect(try await f.served(t).contains("image v1")) }
            let status = try await f.shipit(["status"])
            #expect(status.status == 0, "\(status.stdout)")
        }
    }
}

/// `traffic.standby: SECONDS`: the warm standby is stopped that long after a deploy; a rollback
/// then starts it on its slot again, smoke-tests it there, and switches.
@Suite("traffic switch: standby time limit")
struct StandbyLimitTests {
    @Test func theStandbyStopsAfterItsTimeAndARollbackStillWorks() async throws {
        let f = try DeployFixture(extraYAML: "traffic: {proxy: nginx, drain: 1, standby: 2}")
        try await withCleanup({ await f.cleanUp() }) {
            #expect(try await f.shipit(["deploy", "--from", f.release("v1")]).status == 0)
            let v2 = try await f.shipit(["deploy", "--from", f.release("v2"), "--json"])
            #expect(v2.status == 0)
            // The deploy left v1 warm on every host (its report says so)…
            let result = try #require(v2.stdout.split(separator: "\n").last)
            let report = try #require(
                (try JSONSerialization.jsonObject(with: Data(result.utf8)) as? [String: Any])?["report"]
                    as? [String: Any])
            let hostsBefore = try #require(report["hosts"] as? [[String: Any]])
            #expect(hostsBefore.allSatisfy { ($0["standby"] as? String)?.isEmpty == false }, "\(result)")
            // …and the timer stops it (polled: the machine may be busy).
            let h = f.targets[0]
            var standby: Any? = "still there"
            for _ in 0..<40 where standby != nil {
                try await Task.sleep(for: .milliseconds(500))
                let after = try await f.shipit(["status", "--json"])
                let json = try #require(
                    try JSONSerialization.jsonObject(with: Data(after.stdout.utf8)) as? [String: Any])
                standby = (json["hosts"] as? [[String: Any]])?.first { $0["host"] as? String == h }?["standby"]
            }
            #expect(standby == nil)
            #expect(try await f.served(h) == "hello from releases-example v2")
            let back = try await f.shipit(["rollback"])
            #expect(back.status == 0, "\(back.stdout)")
            #expect(back.stdout.contains("warm ok"), "\(back.stdout)")
            for t in f.targets { #expect(try await f.served(t) == "hello from releases-example v1") }
        }
    }
}
