import Foundation
import SSH
import ShipitCore

/// The real sshd hosts started by `scripts/testhosts.sh up` (make test does this). Integration tests
/// fail loudly, never skip, when the hosts are missing.
public struct TestHosts: Sendable {
    public let stateDir: String
    public let hosts: [String]
    public let user: String
    public let identity: String
    public let knownHosts: String

    public static let current: TestHosts = {
        let env = ProcessInfo.processInfo.environment
        let dir = env["SHIPIT_TESTHOSTS"] ?? "/tmp/shipit-testhosts"
        let list = (try? String(contentsOfFile: dir + "/hosts.txt", encoding: .utf8)) ?? ""
        let hosts = list.split(separator: "\n").map(String.init).filter { !$0.isEmpty }
        precondition(!hosts.isEmpty, "no test hosts in \(dir): run `make test` (or scripts/testhosts.sh up 3) first")
        return TestHosts(
            stateDir: dir, hosts: hosts, user: env["SHIPIT_TEST_USER"] ?? "deploy",
            identity: dir + "/keys/id_ed25519", knownHosts: dir + "/known_hosts")
    }()

    public var repoRoot: String {
        var url = URL(fileURLWithPath: #filePath)
        for _ in 0..<3 { url.deleteLastPathComponent() }
        return url.path
    }

    public func key(_ name: String) -> String { stateDir + "/keys/" + name }

    public func options(
        knownHosts: String? = nil, auth: [SSHOptions.Authentication]? = nil,
        policy: SSHOptions.HostKeyPolicy = .strict, connectTimeout: Double = 10
    ) -> SSHOptions {
        SSHOptions(
            authentication: auth ?? [.privateKey(path: identity)], knownHostsPath: knownHosts ?? self.knownHosts,
            hostKeyPolicy: policy, connectTimeout: connectTimeout)
    }

    /// A copy of the harness's known_hosts in which `name`'s entries (hashed, as `ssh` writes them)
    /// are replaced by `keyLine` ("TYPE BASE64"): a changed host key, as a rebuilt host or a man in
    /// the middle presents it.
    public func knownHosts(replacing name: String, with keyLine: String) throws -> String {
        let path = Local.tempDir("kh") + "/known_hosts"
        try FileManager.default.copyItem(atPath: knownHosts, toPath: path)
        let removed = try LocalProcess.run(["ssh-keygen", "-R", name, "-f", path])
        precondition(removed.contains("updated"), "\(name) was not in \(knownHosts): \(removed)")
        try FilePath.append("\(name) \(keyLine)\n", to: path)
        return path
    }

    /// "TYPE BASE64" of one of a harness host's public host keys (`ed25519`, `ecdsa`, `rsa`).
    public func hostKeyLine(of address: String, type: String = "ed25519") throws -> String {
        try String(contentsOfFile: stateDir + "/hosts/\(address)/ssh_host_\(type)_key.pub", encoding: .utf8)
            .split(separator: " ").prefix(2).joined(separator: " ")
    }

    public func target(_ index: Int = 0) -> SSHTarget { SSHTarget(host: hosts[index % hosts.count], user: user) }

    public func connect(_ index: Int = 0) async throws -> SSHSession {
        try await SSHSession.connect(to: target(index), options: options())
    }

    /// The body of GET `path` on address:port as seen from `host` (through an SSH tunnel, as the
    /// smoke test does).
    public func httpGet(_ host: String, port: Int, path: String = "/") async throws -> String {
        let s = try await connect(to: host)
        let raw: Data
        do {
            raw = try await s.tunnelRequest(
                host: host, port: port, request: Data("GET \(path) HTTP/1.0\r\n\r\n".utf8), timeout: 3)
        } catch {
            await s.close()
            throw error
        }
        await s.close()
        return try HTTPResponse.parse(raw).body.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// A host by address (also one started by a test with `start-host`).
    public func connect(to address: String) async throws -> SSHSession {
        try await SSHSession.connect(to: SSHTarget(host: address, user: user), options: options())
    }

    public func settings(parallel: Int = 10) -> ConnectionSettings {
        ConnectionSettings(
            user: user, identities: [identity], useAgent: false, knownHostsPath: knownHosts,
            connectTimeout: 10, commandTimeout: 60, parallel: parallel)
    }

    /// SIGKILLs every sshd of a host (listener and open sessions): it drops off mid-step, while its
    /// /srv and its apps live on (`reviveHost` brings sshd back on the same disk).
    @discardableResult
    public func killHost(_ address: String) async throws -> String {
        try await harness(["kill-host", address], environment: [:])
    }
    public func reviveHost(_ address: String) async throws {
        try await harness(["revive-host", address], environment: [:])
    }

    /// Runs the harness script (start-host/stop-host/kill-host… for fault tests), with extra
    /// environment (e.g. `SHIPIT_SRV_SIZE` for a host with a tiny disk).
    @discardableResult
    public func harness(_ args: [String], environment: [String: String]) async throws -> String {
        let env = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        return try await Local.run(["bash", repoRoot + "/scripts/testhosts.sh"] + args, environment: env)
    }
}

/// Local helpers for tests: temp dirs and running local programs.
public enum Local {
    public static func tempDir(_ prefix: String = "shipit-test") -> String {
        let path = NSTemporaryDirectory() + "\(prefix)-\(UUID().uuidString.prefix(8))"
        try! FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    @discardableResult
    public static func run(_ argv: [String], environment: [String: String]? = nil) throws -> String {
        try LocalProcess.run(argv, env: environment)
    }

    /// `run` on a dispatch thread, for async tests: a blocked test thread starves the others.
    @discardableResult
    public static func run(_ argv: [String], environment: [String: String]? = nil) async throws -> String {
        let (status, out) = try await LocalProcess.runStatusDetached(argv, env: environment)
        guard status == 0 else { throw LocalProcess.Failure(argv: argv, status: status, output: out) }
        return out
    }

    /// Blocking work (building an artifact runs tar and gzip) on a thread of its own: the test
    /// concurrency pool has as many threads as cores, and a blocked one delays every other test.
    public static func offPool<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { cont in
            Thread.detachNewThread { cont.resume(with: Result { try body() }) }
        }
    }

    public static func sha256(_ path: String) throws -> String {
        try Digest.sha256Hex(file: path)
    }
}

/// Runs `body`, then `cleanUp`, awaited whatever `body` did (a `defer { Task { … } }` would fire
/// the clean-up and forget it: the test could end, and the next start, before it ran).
public func withCleanup<T>(_ cleanUp: () async -> Void, _ body: () async throws -> T) async throws -> T {
    do {
        let result = try await body()
        await cleanUp()
        return result
    } catch {
        await cleanUp()
        throw error
    }
}
