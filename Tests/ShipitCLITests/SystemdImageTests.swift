import Foundation
import ShipitCore
import TestSupport
import Testing

/// The image strategy on a host whose PID 1 is systemd, with rootless podman for the deploy user
/// (the engine host of scripts/systemdhosts.sh, pulling from a registry on the podman network):
/// after a reboot the containers that serve come back by themselves — the current release's (or
/// the active slot's behind the managed proxy) and the worker's — and nothing else; `supervisor:
/// none` brings nothing back.
@Suite("image strategy under systemd: what serves comes back after a reboot", .serialized)
struct SystemdImageTests {
    let sd = SystemdHosts.current
    let worker = """
        roles:
          worker:
            cmd: trap 'exit 0' TERM; while :; do cat /www/index.html > /beat; sleep 0.2; done
            status: cat /beat
            stop_timeout: 2
        """

    func read(_ name: String) -> String? {
        (try? String(contentsOfFile: sd.stateDir + "/systemd/" + name, encoding: .utf8))?
            .trimmingCharacters(in: .whitespacesAndNewlines)
    }

    struct Fixture {
        let host: String
        let app: String
        let dir: String
        let config: String
        let port: Int
    }

    func fixture(supervisor: String, traffic: Bool) throws -> Fixture {
        let host = try #require(read("engine-host.txt"), "scripts/systemdhosts.sh up-engine has not run")
        let registry = try #require(read("engine-registry.txt"))
        let tag = String(UUID().uuidString.prefix(6)).lowercased()
        let app = "sdi-\(tag)"
        let dir = Local.tempDir("shipit-sd-image")
        let port = Int.random(in: 20000...29000)
        let config = dir + "/shipit.yml"
        try """
        app: \(app)
        hosts: [{host: \(host), roles: [web, worker]}]
        ssh: {user: \(sd.user), identity: \(sd.identity), known_hosts: \(sd.knownHosts), connect_timeout: 10}
        strategy: image
        deploy_to: /home/\(sd.user)/\(app)
        supervisor: \(supervisor)
        image:
          name: \(registry)/demo
          engine: podman
          container_port: 8080
          port: \(port)
          tls_verify: false
          stop_timeout: 2
        health: {port: \(port), address: reached, deadline: 20, interval: 0.1}
        \(traffic ? "traffic: {proxy: nginx, drain: 1}" : "")
        \(worker)
        """.write(toFile: config, atomically: true, encoding: .utf8)
        return Fixture(host: host, app: app, dir: dir, config: config, port: port)
    }

    func shipit(_ f: Fixture, _ args: [String]) async throws -> ShipitBinary.Run {
        try await ShipitBinary(hosts: sd.harness).run(config: f.config, args)
    }

    func sh(_ host: String, _ command: String) async throws -> String {
        let s = try await sd.connect(to: host)
        let out = try await s.exec(command).stdoutText
        await s.close()
        return out.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// The names of the app's running containers.
    func running(_ f: Fixture) async throws -> Set<String> {
        let out = try await sh(f.host, "podman ps --filter label=shipit.app=\(f.app) --format '{{.Names}}' 2>/dev/null")
        return Set(out.split(separator: "\n").map(String.init))
    }

    func cleanUp(_ f: Fixture) async {
        _ = try? await sh(
            f.host,
            """
            systemctl --user disable --now shipit-\(f.app)-containers.service >/dev/null 2>&1
            rm -f ~/.config/systemd/user/shipit-\(f.app)-*; systemctl --user daemon-reload
            podman rm -f $(podman ps -aq --filter label=shipit.app=\(f.app)) >/dev/null 2>&1
            [ -f ~/\(f.app)/.shipit/proxy/nginx.pid ] && kill $(cat ~/\(f.app)/.shipit/proxy/nginx.pid)
            rm -rf ~/\(f.app)
            """)
        try? FileManager.default.removeItem(atPath: f.dir)
    }

    @Test(arguments: [false, true])
    func afterARebootWhatServesComesBack(traffic: Bool) async throws {
        let f = try fixture(supervisor: "systemd", traffic: traffic)
        try await withCleanup({ await cleanUp(f) }) {
            let v1 = try await shipit(f, ["deploy", "--tag", "v1"])
            #expect(v1.status == 0, "\(v1.stdout)\(v1.stderr)")
            let v2 = try await shipit(f, ["deploy", "--tag", "v2"])
            #expect(v2.status == 0, "\(v2.stdout)\(v2.stderr)")
            #expect(v2.stdout.contains("supervisor: systemd"), "\(v2.stdout)")
            let serving = try await running(f)
            // The unit that brings them back is enabled; the containers are not units of their own.
            #expect(
                try await sh(f.host, "systemctl --user is-enabled shipit-\(f.app)-containers.service") == "enabled")

            try await sd.reboot(f.host)
            let back = await SupervisedHosts().secondsUntil(10) {
                await SupervisedHosts().get(f.host, f.port).contains("releases-example image v2")
            }
            #expect(back != nil, "\(f.host):\(f.port) does not answer v2 within 10 s of sshd accepting")
            // Exactly what served: v2's container (the active slot's) and the worker; v1's warm
            // standby ran before the reboot but is not brought back.
            let v1Standby = serving.filter { $0.contains("-v1-") }
            #expect(v1Standby.count == (traffic ? 1 : 0), "before: \(serving.sorted())")
            #expect(try await running(f) == serving.subtracting(v1Standby), "before: \(serving.sorted())")
            #expect(try await running(f).contains("\(f.app)-worker"))
            // status and verify read the boot unit: enabled and active is well; not enabled is a finding.
            let status = try await shipit(f, ["status", "--json"])
            #expect(status.stdout.contains("\"supervisor\" : \"systemd\""), "\(status.stdout)")
            let verify = try await shipit(f, ["verify"])
            #expect(verify.status == 0, "\(verify.stdout)\(verify.stderr)")
            _ = try await sh(f.host, "systemctl --user disable -q shipit-\(f.app)-containers.service")
            let drift = try await shipit(f, ["verify"])
            #expect(drift.status == ShipitExit.unhealthy.rawValue, "\(drift.stdout)")
            #expect(
                drift.stdout.contains("shipit-\(f.app)-containers.service (containers) runs but is disabled"),
                "\(drift.stdout)")
            // And the next deploy and a rollback go on from there (the rollback's pre-flight enables it again).
            let back1 = try await shipit(f, ["rollback"])
            #expect(back1.status == 0, "\(back1.stdout)\(back1.stderr)")
            #expect(await SupervisedHosts().get(f.host, f.port).contains("releases-example image v1"))
            #expect(
                try await sh(f.host, "systemctl --user is-enabled shipit-\(f.app)-containers.service") == "enabled")
        }
    }

    /// The image strategy behind the host's front door: chosen by name on the shared port, its
    /// containers on their slots behind it, a reboot bringing both back.
    @Test func behindTheFrontDoorAContainerIsReachedByNameAndComesBackAfterAReboot() async throws {
        let f = try fixture(supervisor: "systemd", traffic: true)
        let name = "\(f.app).test"
        let slots = DeployFixture.peekPort()
        let yaml = try String(contentsOfFile: f.config, encoding: .utf8).replacingOccurrences(
            of: "traffic: {proxy: nginx, drain: 1}",
            with: "traffic: {proxy: nginx, drain: 1, hosts: [\(name)], slots: [\(slots + 1), \(slots + 2)]}")
        try yaml.write(toFile: f.config, atomically: true, encoding: .utf8)
        func get() async -> String {
            (try? await Local.run([
                "curl", "-s", "--max-time", "2", "--resolve", "\(name):\(f.port):\(f.host)",
                "http://\(name):\(f.port)/",
            ])) ?? ""
        }
        try await withCleanup({
            _ = try? await shipit(f, ["proxy", "remove"])
            await cleanUp(f)
        }) {
            for v in ["v1", "v2"] {
                let r = try await shipit(f, ["deploy", "--tag", v])
                #expect(r.status == 0, "\(r.stdout)\(r.stderr)")
            }
            #expect(await get().contains("releases-example image v2"))
            let files = try await sh(f.host, "ls ~/.shipit/front/apps/")
            #expect(files.contains("\(f.app).conf"), "\(files)")
            #expect(try await sh(f.host, "systemctl --user is-enabled shipit-front.service") == "enabled")
            try await sd.reboot(f.host)
            let back = await SupervisedHosts().secondsUntil(10) { await get().contains("releases-example image v2") }
            #expect(back != nil, "\(name) at \(f.host):\(f.port) does not answer v2 within 10 s of sshd accepting")
            let r = try await shipit(f, ["rollback"])
            #expect(r.status == 0, "\(r.stdout)\(r.stderr)")
            #expect(await get().contains("releases-example image v1"))
        }
    }

    @Test func withoutASupervisorNothingComesBack() async throws {
        let f = try fixture(supervisor: "none", traffic: false)
        try await withCleanup({ await cleanUp(f) }) {
            let v1 = try await shipit(f, ["deploy", "--tag", "v1"])
            #expect(v1.status == 0, "\(v1.stdout)\(v1.stderr)")
            #expect(try await sh(f.host, "ls ~/.config/systemd/user/ 2>/dev/null | grep -c \(f.app) || true") == "0")
            try await sd.reboot(f.host)
            try await Task.sleep(for: .seconds(3))
            #expect(try await running(f).isEmpty)
        }
    }
}
