import Foundation
import SSH

/// The hosts whose PID 1 is systemd, started by `scripts/systemdhosts.sh up` (make test does this):
/// rootful podman containers booted with systemd, each with its own address on the podman network
/// and its own sshd, the deploy user lingering (its `systemctl --user` units start at boot). Keys
/// and known_hosts are the loopback harness's (`TestHosts`). A reboot is `podman stop` and `start`.
/// Integration tests fail loudly, never skip, when the hosts are missing.
public struct SystemdHosts: Sendable {
    /// The loopback harness: its state directory, deploy user, key and known_hosts serve here too.
    public let harness: TestHosts
    public let hosts: [String]
    public var stateDir: String { harness.stateDir }
    public var user: String { harness.user }
    public var identity: String { harness.identity }
    public var knownHosts: String { harness.knownHosts }
    public var repoRoot: String { harness.repoRoot }

    public static let current: SystemdHosts = {
        let harness = TestHosts.current
        let dir = harness.stateDir
        let list = (try? String(contentsOfFile: dir + "/systemd-hosts.txt", encoding: .utf8)) ?? ""
        let hosts = list.split(separator: "\n").map(String.init).filter { !$0.isEmpty }
        precondition(
            !hosts.isEmpty, "no systemd test hosts in \(dir): run `make test` (or scripts/systemdhosts.sh up 3) first")
        return SystemdHosts(harness: harness, hosts: hosts)
    }()

    /// The key that logs in as root on these hosts (for what only root may do: a system unit, a
    /// look at the journal).
    public var rootIdentity: String { stateDir + "/keys/root_ed25519" }

    /// Strict host key checking against the harness's known_hosts, as shipit runs by default.
    public func options(identity: String? = nil, connectTimeout: Double = 10) -> SSHOptions {
        SSHOptions(
            authentication: [.privateKey(path: identity ?? self.identity)], knownHostsPath: knownHosts,
            hostKeyPolicy: .strict, connectTimeout: connectTimeout)
    }

    public func connect(to address: String, asRoot: Bool = false) async throws -> SSHSession {
        try await SSHSession.connect(
            to: SSHTarget(host: address, user: asRoot ? "root" : user),
            options: options(identity: asRoot ? rootIdentity : nil))
    }

    /// A `podman stop` and `start` of the host, returning once its sshd accepts a login again (the script
    /// bounds the wait and fails when it does not).
    @discardableResult
    public func reboot(_ address: String) async throws -> String {
        try await script(["reboot", address])
    }

    @discardableResult
    public func script(_ args: [String]) async throws -> String {
        try await Local.run(["bash", repoRoot + "/scripts/systemdhosts.sh"] + args)
    }
}
