import Foundation
import ShipitCore

/// A deploy of releases-example to the real test hosts, isolated per test: its own deploy_to under
/// /srv, its own app port, its own config file. `cleanUp()` stops the app and removes everything.
public final class DeployFixture: @unchecked Sendable {
    public let hosts: TestHosts
    public let dir: String
    public let deployTo: String
    public let port: Int
    public let targets: [String]
    public let configFile: String
    /// `test-<tag>` (or `<name>-<tag>`): also the prefix of its systemd units (`shipit-test-<tag>…`).
    public let app: String

    /// `deployRoot`: where its deploy_to goes (a host whose /srv the deploy user cannot write
    /// takes a directory in its home). `name`: the app's and deploy_to's first word, for a suite
    /// whose deploys must be told from others' on shared hosts (`<name>-<tag>` for both).
    public init(
        hosts: TestHosts = .current, targets: [String]? = nil, keep: Int = 3, healthDeadline: Double = 2,
        port: Int? = nil, extraYAML: String = "",
        sshYAML: String = "", connectTimeout: Int = 10, roles: [String: [String]] = [:], bindReached: Bool = true,
        checkFromHost: Bool = false, deployRoot: String = "/srv", name: String? = nil
    ) throws {
        self.hosts = hosts
        self.targets = targets ?? hosts.hosts
        dir = Local.tempDir("shipit-deploy")
        let tag = String(UUID().uuidString.prefix(8)).lowercased()
        deployTo = "\(deployRoot)/\(name ?? "t")-\(tag)"
        app = "\(name ?? "test")-\(tag)"
        self.port = port ?? Self.nextPort()
        configFile = dir + "/shipit.yml"
        // The test hosts share one network, each on its own address: each listener binds that
        // address (the default, every address, would make the hosts' listeners collide).
        let yaml = """
            app: \(app)
            hosts: [\(self.targets.map { h in roles[h].map { "{host: \(h), roles: [\($0.joined(separator: ", "))]}" } ?? h }.joined(separator: ", "))]
            ssh:
              user: \(hosts.user)
              identity: \(hosts.identity)
              known_hosts: \(hosts.knownHosts)
              connect_timeout: \(connectTimeout)
            \(sshYAML.split(separator: "\n").map { "  " + $0 }.joined(separator: "\n"))
            deploy_to: \(deployTo)
            keep_releases: \(keep)
            start: sh start.sh
            health:
              port: \(self.port)
            \(bindReached ? "  address: reached" : "")
            \(checkFromHost ? "  check_from: host" : "")
              deadline: \(healthDeadline)
              interval: 0.05
            hooks: \(dir)/hooks
            \(extraYAML)
            """
        try yaml.write(toFile: configFile, atomically: true, encoding: .utf8)
    }

    /// Distinct app ports for fixtures running in parallel in one test process (each takes three:
    /// the public port and the traffic switch's two slots).
    private static let portLock = NSLock()
    nonisolated(unsafe) private static var lastPort = Int.random(in: 20000...28000)
    /// A port for a fixture made later (a test whose config must name it first, e.g. Prometheus
    /// scraping the app).
    public static func peekPort() -> Int { nextPort() }

    static func nextPort() -> Int {
        portLock.lock()
        defer { portLock.unlock() }
        lastPort += 3
        return lastPort
    }

    /// Installs an executable deployer-side hook (`#!/bin/sh` + `body`).
    public func writeHook(_ name: String, _ body: String) throws {
        try FileManager.default.createDirectory(atPath: dir + "/hooks", withIntermediateDirectories: true)
        try ("#!/bin/sh\n" + body).write(toFile: dir + "/hooks/" + name, atomically: true, encoding: .utf8)
        try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: dir + "/hooks/" + name)
    }

    /// A hook that touches `entered` and then waits until the test creates `go`: the run is parked
    /// at that moment for as long as the test needs.
    public func parkingHook(_ name: String) throws -> (entered: String, go: String) {
        let entered = dir + "/\(name).entered"
        let go = dir + "/\(name).go"
        try writeHook(name, "touch '\(entered)'\nwhile [ ! -f '\(go)' ]; do sleep 0.05; done\n")
        return (entered, go)
    }

    /// Polls until `path` exists (or `timeout` passes).
    public static func waitForFile(_ path: String, timeout: Double = 30) async throws {
        let deadline = Date().addingTimeInterval(timeout)
        while !FileManager.default.fileExists(atPath: path) && Date() < deadline {
            try await Task.sleep(for: .milliseconds(20))
        }
    }

    public func release(_ version: String) -> String { hosts.repoRoot + "/releases-example/" + version }

    /// A copy of `version` plus `bytes` of incompressible data: a release whose upload takes long
    /// enough to be interrupted, or that fills a small disk.
    public func bigRelease(_ version: String, bytes: Int) async throws -> String {
        let dir = Local.tempDir("big")
        try await Local.run(["cp", "-a", release(version) + "/.", dir])
        try await Local.run(["sh", "-c", "head -c \(bytes) /dev/urandom > '\(dir)/blob.bin'"])
        return dir
    }

    public func config() throws -> DeployConfig { try DeployConfig.load(file: configFile) }

    /// A run on the fixture's hosts (or `config`'s), its fleet closed when `body` returns.
    public func run(
        _ config: DeployConfig? = nil, options: Deployment.Options = .init(),
        _ body: (Deployment) async -> DeployReport
    ) async throws -> DeployReport {
        let cfg = try config ?? self.config()
        return await withFleet(cfg) {
            await body(Deployment(config: cfg, transport: $0, options: options, notify: { _ in }))
        }
    }

    public func deploy(_ version: String, from path: String? = nil) async throws -> DeployReport {
        let work = Local.tempDir("artifact")
        let artifact = try Artifact.build(from: .directory(path ?? release(version)), workDir: work)
        return try await run { await $0.deploy(artifact) }
    }

    /// Runs a shell command on one host (as the deploy user) and returns stdout.
    public func sh(_ host: String, _ command: String) async throws -> String {
        let s = try await hosts.connect(to: host)
        let out = try await s.exec(command).stdoutText
        await s.close()
        return out
    }

    public func currentRelease(_ host: String) async throws -> String {
        (try await sh(host, "readlink \(deployTo)/current || true")).trimmingCharacters(in: .whitespacesAndNewlines)
            .split(separator: "/").last.map(String.init) ?? ""
    }

    /// Traffic switch: each target's active slot and the pid serving on it ("PORT PID").
    public func servingSlots() async throws -> [String: String] {
        var out: [String: String] = [:]
        for h in targets {
            out[h] = try await sh(
                h, "s=$(cat \(deployTo)/.shipit/slots/active) && echo \"$s $(cat \(deployTo)/.shipit/slots/$s.pid)\"")
        }
        return out
    }

    /// What the app answers on GET / (through a tunnel, as the smoke test does).
    public func served(_ host: String) async throws -> String {
        try await hosts.httpGet(host, port: port)
    }

    /// The host's lock: "free", or its holder's attempt id.
    public func lockHolder(_ host: String) async throws -> String {
        let out = try await sh(host, "sed -n 's/^holder=//p' \(deployTo)/.shipit/lock 2>/dev/null || true")
        let holder = out.trimmingCharacters(in: .whitespacesAndNewlines)
        return holder.isEmpty ? "free" : holder
    }

    /// Partial uploads or extracts left on the host (should be none once a run is over).
    public func leftovers(_ host: String) async throws -> String {
        try await sh(host, "cd \(deployTo) && ls -d .shipit/upload-* releases/*.tmp 2>/dev/null || true")
    }

    /// `shipit <command> --config <this fixture's config> <rest…>`.
    public func shipit(_ args: [String]) async throws -> ShipitBinary.Run {
        try await ShipitBinary(hosts: hosts).run(config: configFile, args)
    }

    /// `shipit changes --json` for the last hour, from the ledger alone.
    public func timeline() async throws -> Timeline {
        try ShipitBinary.decode(
            Timeline.self, try await shipit(["changes", "--json", "--no-hosts", "--since", "1h"]).stdout)
    }

    public func cleanUp() async {
        // The harness's hosts only: a target that is not one (an unreachable address) has nothing to clean.
        let systemd = (try? String(contentsOfFile: hosts.stateDir + "/systemd-hosts.txt", encoding: .utf8)) ?? ""
        let own = Set(hosts.hosts + systemd.split(separator: "\n").map(String.init))
        for h in targets where own.contains(h) { await stopAll(on: h) }
        try? FileManager.default.removeItem(atPath: dir)
    }

    /// Stops the app (in place, or on the traffic switch's slots) and the managed proxy on `host`,
    /// and removes deploy_to. A host where they ran as the deploy user's systemd units loses those
    /// units too (stopped, disabled, their files removed), so no later boot starts them.
    public func stopAll(on host: String) async {
        _ = try? await sh(
            host,
            "d=${XDG_CONFIG_HOME:-$HOME/.config}/systemd/user; if ls \"$d\"/shipit-\(app)[.@-]* >/dev/null 2>&1; then systemctl --user stop 'shipit-\(app)-*' 'shipit-\(app).service' 2>/dev/null; rm -f \"$d\"/shipit-\(app)[.@-]* \"$d\"/*.wants/shipit-\(app)[.@-]*; systemctl --user daemon-reload; fi; "
                + "for p in \(deployTo)/.shipit/roles/*.pid; do [ -f \"$p\" ] && kill -9 -- -$(cat \"$p\"); done; for p in \(deployTo)/shared/app.pid \(deployTo)/.shipit/slots/*.pid \(deployTo)/.shipit/proxy/nginx.pid; do [ -f \"$p\" ] && kill $(cat \"$p\"); done; rm -rf \(deployTo)"
        )
    }
}
