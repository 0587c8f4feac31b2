import Foundation
import SSH
import ShipitCore

/// A pretend fleet for unit tests of the orchestration: it recognises each step's script, keeps a
/// `current` release per host, and fails the steps a test asks it to. No network, no shell.
final class FakeTransport: HostTransport, @unchecked Sendable {
    private let lock = NSLock()
    private var current: [String: String] = [:]
    private var releases: [String: Set<String>] = [:]
    private(set) var calls: [(host: String, step: String)] = []
    /// Steps that fail on a host: "preflight", "upload", "extract", "switch".
    var failing: [String: Set<String>] = [:]
    /// Releases whose smoke test fails (on `unhealthyHosts`, or everywhere when empty).
    var unhealthy: Set<String> = []
    var unhealthyHosts: Set<String> = []
    /// Called when a step starts (e.g. to raise an interrupt mid-upload).
    var onStep: ((String, String) -> Void)?
    /// host → step: the step takes effect on the host, then the connection dies before its result
    /// comes back; from then on the host cannot be reached.
    var dropAfter: [String: String] = [:]
    private var gone: Set<String> = []

    init(hosts: [String], current: String? = nil, releases: [String] = []) {
        for h in hosts {
            self.current[h] = current
            self.releases[h] = Set(releases + (current.map { [$0] } ?? []))
        }
    }

    func currentRelease(_ host: String) -> String? { lock.withLock { current[host] } }
    func setCurrent(_ host: String, _ id: String) {
        lock.withLock {
            current[host] = id
            releases[host, default: []].insert(id)
        }
    }
    func steps(_ host: String) -> [String] { lock.withLock { calls.filter { $0.host == host }.map(\.step) } }

    static func value(_ name: String, in script: String) -> String? {
        for line in script.split(separator: "\n") where line.hasPrefix("\(name)=") {
            var v = String(line.dropFirst(name.count + 1))
            if v.hasPrefix("'") && v.hasSuffix("'") { v = String(v.dropFirst().dropLast()) }
            return v
        }
        return nil
    }

    /// The step a command is, from the data it carries (never from its script's text).
    static func step(of command: RemoteCommand) -> String {
        switch command.step {
        case .forceUnlock?: return "unlock"
        case let s?: return s.rawValue
        case nil: return "unknown"
        }
    }

    private func result(_ code: Int32, _ out: String) -> ExecResult {
        ExecResult(status: ExitStatus(code: code), stdout: Data(out.utf8))
    }

    func run(_ host: String, _ command: RemoteCommand) async throws -> ExecResult {
        let script = command.rendered
        let step = Self.step(of: command)
        onStep?(host, step)
        let r = lock.withLock { () -> ExecResult? in
            if gone.contains(host) { return nil }
            calls.append((host, step))
            if failing[host]?.contains(step) == true { return result(1, "error=\(step) failed on purpose\n") }
            let id = Self.value("ID", in: script) ?? ""
            switch step {
            case "preflight":
                // A rollback's pre-flight carries the inventory too.
                let inventory = command.alsoRuns.contains(.inventory) ? inventoryText(host) : ""
                return result(0, "lock=acquired\ncurrent=\(current[host] ?? "")\n" + inventory)
            case "extract":
                releases[host, default: []].insert(id)
                return result(0, "extracted=\(id)\n")
            case "switch":
                guard releases[host]?.contains(id) == true else {
                    return result(30, "error=release \(id) is not on this host\n")
                }
                let prev = current[host] ?? ""
                current[host] = id
                return result(0, "previous=\(prev)\nswitched=\(id)\n")
            case "abandon":
                return result(0, "lock=released\n")
            case "inventory": return result(0, inventoryText(host))
            default: return result(0, "lock=released\n")
            }
        }
        guard let r else {
            throw SSHError(kind: .connect, host: host, operation: "connect", message: "Connection refused")
        }
        if lock.withLock({ dropAfter[host] == step ? gone.insert(host).inserted : false }) {
            throw SSHError(kind: .connectionLost, host: host, operation: "exec", message: "connection lost")
        }
        return r
    }

    /// Called with the lock held.
    private func inventoryText(_ host: String) -> String {
        let rels = (releases[host] ?? []).sorted().map { "release=\($0)" }.joined(separator: "\n")
        return "current=\(current[host] ?? "")\n\(rels)\n"
    }

    /// Streaming counts as the upload and then the command. A pre-flight that carries the artifact
    /// runs its checks first and takes the file only when they pass, as the real script does.
    func run(_ host: String, _ command: RemoteCommand, stdinPath: String) async throws -> ExecResult {
        guard command.step == .preflight, command.alsoRuns.contains(.extract) else {
            try await upload(host, localPath: stdinPath, remotePath: "")
            return try await run(host, command)
        }
        let pre = try await run(host, command)
        guard pre.status.succeeded else { return pre }
        do { try await upload(host, localPath: stdinPath, remotePath: "") } catch {
            // The script took the lock, then the file did not arrive whole: exit 24, lock held.
            return ExecResult(
                status: ExitStatus(code: 24), stdout: pre.stdout + Data("error=receiving the artifact failed\n".utf8))
        }
        let id = Self.value("ID", in: command.rendered) ?? ""
        lock.withLock {
            calls.append((host, "extract"))
            releases[host, default: []].insert(id)
        }
        return ExecResult(status: ExitStatus(code: 0), stdout: pre.stdout + Data("extracted=\(id)\n".utf8))
    }

    func sftpAvailable(_ host: String) async -> Bool { true }
    func follow(
        _ host: String, _ command: RemoteCommand, until stop: @escaping @Sendable () -> Bool,
        onOutput: @escaping @Sendable (OutputChannel, Data) -> Void
    ) async throws -> ExecResult { throw CancellationError() }

    func upload(_ host: String, localPath: String, remotePath: String) async throws {
        onStep?(host, "upload")
        try lock.withLock {
            calls.append((host, "upload"))
            if failing[host]?.contains("upload") == true { throw ShipitError("upload failed on purpose") }
        }
    }

    func httpGet(_ host: String, address: String, port: Int, path: String, timeout: Double) async throws -> HTTPResponse
    {
        if lock.withLock({ gone.contains(host) }) {
            throw SSHError(kind: .connect, host: host, operation: "connect", message: "Connection refused")
        }
        let bad = lock.withLock { () -> Bool in
            calls.append((host, "probe"))
            guard let cur = current[host], unhealthy.contains(cur) else { return false }
            return unhealthyHosts.isEmpty || unhealthyHosts.contains(host)
        }
        return try HTTPResponse.parse(
            Data((bad ? "HTTP/1.0 503 Service Unavailable\r\n\r\nnot ready" : "HTTP/1.0 200 OK\r\n\r\nok").utf8))
    }

    func publicGet(_ host: String, health: DeployConfig.Health, path: String) async throws -> HTTPResponse {
        try await httpGet(
            host, address: health.probeAddress(of: host), port: health.port, path: path, timeout: health.requestTimeout)
    }

    func close() async {}
}
