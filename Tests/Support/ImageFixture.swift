import Foundation
import ShipitCore

/// An image-strategy deploy to the real test hosts, isolated per test: its own app name (so its
/// own containers), deploy_to and published port. Needs the local registry and the demo images
/// (`scripts/registry.sh up && scripts/images.sh`, done by `make test`).
public final class ImageFixture: @unchecked Sendable {
    public static let registry = ProcessInfo.processInfo.environment["SHIPIT_REGISTRY_ADDR"] ?? "127.0.0.1:5055"
    public static let engine =
        "podman --root /srv/podman/root --runroot /srv/podman/run --tmpdir /srv/podman/tmp --cgroup-manager cgroupfs --events-backend file"

    public let hosts: TestHosts
    public let app: String
    public let dir: String
    public let deployTo: String
    public let port: Int
    public let configFile: String
    public var targets: [String] { hosts.hosts }

    public init(
        hosts: TestHosts = .current, image: String = "demo", extraImageYAML: String = "", extraYAML: String = "",
        roles: [String: [String]] = [:]
    ) throws {
        self.hosts = hosts
        let tag = String(UUID().uuidString.prefix(6)).lowercased()
        app = "img-\(tag)"
        dir = Local.tempDir("shipit-image")
        deployTo = "/srv/i-\(tag)"
        port = Self.nextPort()
        configFile = dir + "/shipit.yml"
        try """
        app: \(app)
        hosts: [\(hosts.hosts.map { h in roles[h].map { "{host: \(h), roles: [\($0.joined(separator: ", "))]}" } ?? h }.joined(separator: ", "))]
        ssh: {user: \(hosts.user), identity: \(hosts.identity), known_hosts: \(hosts.knownHosts), connect_timeout: 10}
        strategy: image
        deploy_to: \(deployTo)
        image:
          name: \(Self.registry)/\(image)
          engine: \(Self.engine)
          container_port: 8080
          port: \(port)
          tls_verify: false
          stop_timeout: 2
        \(extraImageYAML)
        health: {port: \(port), address: reached, deadline: 6, interval: 0.05}  # a container under a loaded test run: 3 s was once not enough
        hooks: \(dir)/hooks
        \(extraYAML)
        """.write(toFile: configFile, atomically: true, encoding: .utf8)
    }

    /// Distinct published ports for the fixtures of one test process (each takes three: the
    /// public port and, with the traffic switch, two slots), below the ephemeral ports and apart
    /// from DeployFixture's range: two fixtures running at once never share one.
    private static let portLock = NSLock()
    nonisolated(unsafe) private static var lastPort = Int.random(in: 10000...12000)

    static func nextPort() -> Int {
        portLock.lock()
        defer { portLock.unlock() }
        lastPort += 3
        return lastPort
    }

    /// Runs podman on a host as the deploy user, with the hosts' storage.
    public func podman(_ host: String, _ args: String) async throws -> String {
        try await sh(host, "\(Self.engine) \(args)")
    }

    /// Runs a shell command on a host as the deploy user.
    public func sh(_ host: String, _ command: String) async throws -> String {
        let s = try await hosts.connect(to: host)
        let out = try await s.exec(command).stdoutText
        await s.close()
        return out.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// What the app answers on GET / (through a tunnel, as the smoke test does).
    public func served(_ host: String) async throws -> String {
        try await hosts.httpGet(host, port: port)
    }

    /// The digest of the image the app's running container was created from.
    public func runningDigest(_ host: String) async throws -> String {
        try await podman(host, "ps --filter label=shipit.app=\(app) --format '{{index .Labels \"shipit.digest\"}}'")
    }

    /// `shipit <command> --config <this fixture's config> <rest…>`.
    public func shipit(_ args: [String]) async throws -> ShipitBinary.Run {
        try await ShipitBinary(hosts: hosts).run(config: configFile, args)
    }

    public func cleanUp() async {
        for h in targets {
            _ = try? await podman(
                h,
                "rm -f $(\(Self.engine) ps -aq --filter label=shipit.app=\(app)) >/dev/null 2>&1; [ -f \(deployTo)/.shipit/proxy/nginx.pid ] && kill $(cat \(deployTo)/.shipit/proxy/nginx.pid); rm -rf \(deployTo)"
            )
        }
        try? FileManager.default.removeItem(atPath: dir)
    }
}
