import Foundation
import SSH
import ShipitCore

/// A pretend fleet for unit tests of the orchestration. It reads each command as the typed
/// `HostScript` it is (its steps and its variables, never its text), keeps per host the releases,
/// `current`, and the traffic switch's slots (which release each runs, which one serves), and fails
/// the steps a test asks it to. No network, no shell.
public final class FakeTransport: HostTransport, @unchecked Sendable {
    private let lock = NSLock()
    private var current: [String: String] = [:]
    private var releases: [String: Set<String>] = [:]
    /// host → slot port → release running there.
    private var slots: [String: [Int: String]] = [:]
    private var active: [String: Int] = [:]
    public private(set) var calls: [(host: String, step: String)] = []
    /// Steps that fail on a host: "preflight", "upload", "extract", "warm", "switch"…
    public var failing: [String: Set<String>] = [:]
    /// Releases whose smoke test fails (on `unhealthyHosts`, or everywhere when empty), on the
    /// public port and on a slot alike.
    public var unhealthy: Set<String> = []
    public var unhealthyHosts: Set<String> = []
    /// Called when a step starts (e.g. to raise an interrupt mid-upload).
    public var onStep: ((String, String) -> Void)?
    /// host → step: the step takes effect on the host, then the connection dies before its result
    /// comes back; from then on the host cannot be reached.
    public var dropAfter: [String: String] = [:]
    /// What a step prints, for the steps this fake does not model (`shipit check`'s lines).
    public var answers: [HostStep: @Sendable (String) -> String] = [:]
    /// Hosts whose connection is refused from the start.
    public var unreachable: Set<String> = []
    /// What connecting to any host throws (a changed host key, a refused login…).
    public var connectError: SSHError?
    /// Every command run, with its host.
    public private(set) var commands: [(host: String, command: RemoteCommand)] = []
    private var gone: Set<String> = []

    public init(hosts: [String], current: String? = nil, releases: [String] = []) {
        for h in hosts {
            self.current[h] = current
            self.releases[h] = Set(releases + (current.map { [$0] } ?? []))
        }
    }

    public func currentRelease(_ host: String) -> String? { lock.withLock { current[host] } }
    public func setCurrent(_ host: String, _ id: String) {
        lock.withLock {
            current[host] = id
            releases[host, default: []].insert(id)
        }
    }
    public func steps(_ host: String) -> [String] {
        lock.withLock { calls.filter { $0.host == host }.map(\.step) }
    }
    /// The slot serving traffic on `host`, and the release each slot runs.
    public func activeSlot(_ host: String) -> Int? { lock.withLock { active[host] } }
    public func slotReleases(_ host: String) -> [Int: String] { lock.withLock { slots[host] ?? [:] } }

    /// The step a command is, from the data it carries.
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

    public func run(_ host: String, _ command: RemoteCommand) async throws -> ExecResult {
        let script = command.hostScript
        let step = Self.step(of: command)
        onStep?(host, step)
        if let connectError { throw connectError }
        let r = lock.withLock { () -> ExecResult? in
            if gone.contains(host) || unreachable.contains(host) { return nil }
            calls.append((host, step))
            commands.append((host, command))
            if failing[host]?.contains(step) == true { return result(1, "error=\(step) failed on purpose\n") }
            if let answer = command.step.flatMap({ answers[$0] }) { return result(0, answer(host)) }
            let id = script?.value(of: "ID") ?? ""
            switch step {
            case "preflight":
                // A rollback's pre-flight carries the inventory too; a deploy's may carry the
                // warm-up (reported as its own step's exit).
                var out = "lock=acquired\ncurrent=\(current[host] ?? "")\n" + slotFacts(host)
                if command.alsoRuns.contains(.inventory) { out += inventoryText(host) }
                return result(0, out)
            case "extract", "create":
                releases[host, default: []].insert(id)
                var out = "extracted=\(id)\n"
                if command.alsoRuns.contains(.warm) { out += warmOutput(host, id: id, script: script, contained: true) }
                return result(0, out)
            case "warm":
                let out = warmOutput(host, id: id, script: script, contained: false)
                return result(out.hasPrefix("error=") ? ScriptExit.releaseMissing.rawValue : 0, out)
            case "switch":
                guard releases[host]?.contains(id) == true else {
                    return result(ScriptExit.releaseMissing.rawValue, "error=release \(id) is not on this host\n")
                }
                let prev = current[host] ?? ""
                // Behind the traffic switch (the script names a slot): the slot must run the release.
                if let slot = script?.value(of: "SLOT").flatMap(Int.init) {
                    guard slots[host]?[slot] == id else {
                        return result(
                            ScriptExit.slotNotRunning.rawValue, "error=release \(id) is not running on slot \(slot)\n")
                    }
                    active[host] = slot
                    current[host] = id
                    return result(0, "previous=\(prev)\nswitched=\(id)\nslot=\(slot)\n")
                }
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

    /// The warm-up: the release started on the slot the script names, or (no slot: riding in an
    /// earlier step's script) the one not serving. Called with the lock held.
    private func warmOutput(_ host: String, id: String, script: HostScript?, contained: Bool) -> String {
        let ports = (script?.value(of: "SLOT_PORTS") ?? "").split(separator: " ").compactMap { Int($0) }
        let named = script?.value(of: "SLOT").flatMap(Int.init)
        let slot = named ?? ports.first { $0 != active[host] } ?? 0
        guard releases[host]?.contains(id) == true, slot != active[host] else {
            let why = "error=release \(id) is not on this host\n"
            return contained ? why + "warm.exit=\(ScriptExit.releaseMissing.rawValue)\n" : why
        }
        slots[host, default: [:]][slot] = id
        return "warmed=\(id)\nslot=\(slot)\n" + (contained ? "warm.exit=0\n" : "")
    }

    /// Called with the lock held.
    private func slotFacts(_ host: String) -> String {
        guard let s = slots[host], !s.isEmpty else { return "" }
        return "slot.active=\(active[host].map(String.init) ?? "")\n"
            + s.keys.sorted().map { "slot.\($0)=\(s[$0]!) running\n" }.joined()
    }

    /// Called with the lock held.
    private func inventoryText(_ host: String) -> String {
        let rels = (releases[host] ?? []).sorted().map { "release=\($0)" }.joined(separator: "\n")
        return "current=\(current[host] ?? "")\n\(rels)\n"
    }

    /// Streaming counts as the upload and then the command. A pre-flight that carries the artifact
    /// runs its checks first and takes the file only when they pass, as the real script does.
    /// The data is what a real host would write to a file: the command's own result counts.
    public func run(_ host: String, _ command: RemoteCommand, stdin: Data) async throws -> ExecResult {
        try await run(host, command)
    }

    public func run(_ host: String, _ command: RemoteCommand, stdinPath: String) async throws -> ExecResult {
        guard command.step == .preflight, command.alsoRuns.contains(.extract) else {
            try await upload(host, localPath: stdinPath, remotePath: "")
            return try await run(host, command)
        }
        let pre = try await run(host, command)
        guard pre.status.succeeded else { return pre }
        do { try await upload(host, localPath: stdinPath, remotePath: "") } catch {
            // The script took the lock, then the file did not arrive whole, lock held.
            return ExecResult(
                status: ExitStatus(code: ScriptExit.fileNotPlaced.rawValue),
                stdout: pre.stdout + Data("error=receiving the artifact failed\n".utf8))
        }
        let id = command.hostScript?.value(of: "ID") ?? ""
        let staged = lock.withLock { () -> String in
            calls.append((host, "extract"))
            releases[host, default: []].insert(id)
            guard command.alsoRuns.contains(.warm) else { return "" }
            calls.append((host, "warm"))
            return warmOutput(host, id: id, script: command.hostScript, contained: true)
        }
        return ExecResult(
            status: ExitStatus(code: 0), stdout: pre.stdout + Data("extracted=\(id)\n\(staged)".utf8))
    }

    public func sftpAvailable(_ host: String) async -> Bool { true }
    public func follow(
        _ host: String, _ command: RemoteCommand, until stop: @escaping @Sendable () -> Bool,
        onOutput: @escaping @Sendable (OutputChannel, Data) -> Void
    ) async throws -> ExecResult { throw CancellationError() }

    public func upload(_ host: String, localPath: String, remotePath: String) async throws {
        onStep?(host, "upload")
        try lock.withLock {
            calls.append((host, "upload"))
            if failing[host]?.contains("upload") == true { throw ShipitError("upload failed on purpose") }
        }
    }

    /// A probe of the public port answers for `current`; a probe of a slot's port for the release
    /// warm there.
    public func httpGet(_ host: String, address: String, port: Int, path: String, timeout: Double) async throws
        -> HTTPResponse
    {
        if lock.withLock({ gone.contains(host) || unreachable.contains(host) }) {
            throw SSHError(kind: .connect, host: host, operation: "connect", message: "Connection refused")
        }
        let (bad, slot) = lock.withLock { () -> (Bool, Int?) in
            calls.append((host, "probe"))
            // The proxy's public port says which slot served (what the public smoke test waits for).
            let slot = slots[host]?[port] == nil ? active[host] : nil
            guard let serving = slots[host]?[port] ?? current[host], unhealthy.contains(serving) else {
                return (false, slot)
            }
            return (unhealthyHosts.isEmpty || unhealthyHosts.contains(host), slot)
        }
        let header = slot.map { "\(TrafficSwitch.slotHeader): \($0)\r\n" } ?? ""
        return try HTTPResponse.parse(
            Data(
                (bad
                    ? "HTTP/1.0 503 Service Unavailable\r\n\(header)\r\nnot ready"
                    : "HTTP/1.0 200 OK\r\n\(header)\r\nok").utf8))
    }

    public func publicGet(_ host: String, health: DeployConfig.Health, path: String) async throws -> HTTPResponse {
        try await httpGet(
            host, address: health.probeAddress(of: host), port: health.port, path: path, timeout: health.requestTimeout)
    }

    public func close() async {}
}
