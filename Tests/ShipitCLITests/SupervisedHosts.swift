import Foundation
import ShipitCore
import TestSupport
import Testing

/// What the supervision tests share: releases-example deployed to the systemd hosts with the
/// traffic switch (and a worker) under a supervisor, and what they look at on those hosts.
struct SupervisedHosts {
    let sd = SystemdHosts.current

    /// releases-example with the switch and a worker on every systemd host, in the deploy
    /// user's home (its /srv is root's, as on a stock server). `name`: DeployFixture's.
    func fixture(
        supervisor: String = "systemd", targets: [String]? = nil, extra: String = "", worker: Bool = true,
        port: Int? = nil, name: String? = nil
    ) throws -> DeployFixture {
        let targets = targets ?? sd.hosts
        return try DeployFixture(
            hosts: sd.harness, targets: targets, healthDeadline: 5, port: port,
            extraYAML: "supervisor: \(supervisor)\ntraffic: {proxy: nginx, drain: 1}\n"
                + (worker ? RolesTests.workerRole : "")
                + "\n" + extra,
            roles: worker ? Dictionary(uniqueKeysWithValues: targets.map { ($0, ["web", "worker"]) }) : [:],
            deployRoot: "/home/\(sd.user)", name: name)
    }

    /// GET / on the public port, from the deployer ("" when nothing answers).
    func get(_ host: String, _ port: Int) async -> String {
        let out = try? await Local.run(["curl", "-s", "--max-time", "2", "http://\(host):\(port)/"])
        return out ?? ""
    }

    /// Seconds until `condition` holds, polled every 0.1 s; nil when it did not within `bound`.
    func secondsUntil(_ bound: Double, _ condition: () async -> Bool) async -> Double? {
        let start = ContinuousClock.now
        while ContinuousClock.now - start < .milliseconds(Int(bound * 1000)) {
            if await condition() {
                let d = ContinuousClock.now - start
                return Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18
            }
            try? await Task.sleep(for: .milliseconds(100))
        }
        return nil
    }

    func trimmed(_ s: String) -> String { s.trimmingCharacters(in: .whitespacesAndNewlines) }

    /// The app's units the user's manager starts at boot (the `default.target.wants` links).
    func enabled(_ f: DeployFixture, _ host: String) async throws -> Set<String> {
        let out = try await f.sh(
            host, "ls ${XDG_CONFIG_HOME:-$HOME/.config}/systemd/user/default.target.wants/ 2>/dev/null || true")
        return Set(out.split(separator: "\n").map(String.init).filter { $0.hasPrefix("shipit-\(f.app)") })
    }

    /// The slot serving traffic on `host`.
    func activeSlot(_ f: DeployFixture, _ host: String) async throws -> String {
        trimmed(try await f.sh(host, "cat \(f.deployTo)/.shipit/slots/active"))
    }

    /// Exactly the serving slot, the proxy and the worker are enabled on every host.
    func expectServingEnabled(_ f: DeployFixture, _ when: String, worker: Bool = true) async throws {
        for h in f.targets {
            let slot = try await activeSlot(f, h)
            var want: Set = ["shipit-\(f.app)-slot@\(slot).service", "shipit-\(f.app)-proxy.service"]
            if worker { want.insert("shipit-\(f.app)-role-worker.service") }
            let got = try await enabled(f, h)
            #expect(got == want, "\(when), \(h): enabled \(got.sorted()), serving slot \(slot)")
        }
    }

    /// `kill -9` of the app whose pid `pidFile` holds, then: v1 answers again on the public port
    /// within `bound` seconds (polled from the deployer alone: an SSH login per poll would measure
    /// the login), from a new process (the pid file names another one).
    func expectRestartedAfterKill(_ f: DeployFixture, _ host: String, pidFile: String, within bound: Double = 2)
        async throws
    {
        let killed = trimmed(try await f.sh(host, "cat \(pidFile)"))
        #expect(Int(killed) != nil, "\(host): pid '\(killed)' in \(pidFile)")
        _ = try await f.sh(host, "kill -9 \(killed)")
        let back = await secondsUntil(bound) { await get(host, f.port).contains("releases-example v1") }
        #expect(back != nil, "\(host): the app did not answer again within \(bound) s of kill -9")
        let now = trimmed(try await f.sh(host, "cat \(pidFile) 2>/dev/null || true"))
        #expect(!now.isEmpty && now != killed, "\(host): the app that answers is not a new process (\(now))")
    }

    /// The worker's own status check, as the role check runs it (fresh heartbeat, this release's).
    func workerOK(_ f: DeployFixture, _ host: String, version: String) async -> Bool {
        let out =
            (try? await f.sh(
                host,
                "cd \(f.deployTo)/current && SHIPIT_DEPLOY_TO=\(f.deployTo) SHIPIT_PID=$(cat \(f.deployTo)/.shipit/roles/worker.pid) sh worker.sh status"
            )) ?? ""
        return out.contains("worker \(version) ok")
    }
}
