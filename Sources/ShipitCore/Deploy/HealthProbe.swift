import FoundationEssentials
import SSH

/// Smoke test of one host: GET live, then ready, retried until a deadline: the public port from the
/// deployer (or the host, `health.check_from`), a slot through the host's SSH session. The result says what URL was tried, the last status and body, and how many attempts.
public struct HealthProbe: Sendable {
    public let health: DeployConfig.Health
    public let transport: HostTransport

    public struct Result: Sendable {
        public let healthy: Bool
        public let attempts: Int
        public let detail: String
    }

    public init(health: DeployConfig.Health, transport: HostTransport) {
        self.health = health
        self.transport = transport
    }

    /// `port`: a slot's port instead of the public one. `servedBy`: the proxy must say (in the
    /// slot header) that this slot answered — a switch is only done once traffic really goes there.
    public func check(
        host: String, port slotPort: Int? = nil, servedBy slot: Int? = nil, interrupt: InterruptFlag? = nil
    ) async -> Result {
        // A slot is checked on the host, where it listens; the public port from `check_from`.
        let address = slotPort == nil ? health.probeAddress(of: host) : health.slotAddress(of: host)
        let deadline = ContinuousClock.now.advanced(by: .milliseconds(Int(health.deadline * 1000)))
        var attempts = 0
        var last = ""
        for path in [health.live, health.ready] {
            let url =
                (slotPort.map { "http://\(HostAddress.withPort(address, $0))\(path)" }
                    ?? health.publicURL(of: host, path: path))
                + (slotPort == nil && health.checkFrom == .deployer ? "" : " (from the host)")
            while true {
                attempts += 1
                // The answer came from another slot: the switch is not visible yet (a system
                // nginx's reload lets old workers answer for ~100 ms), so poll fast.
                var otherSlot = false
                do {
                    let r =
                        slotPort == nil
                        ? try await transport.publicGet(host, health: health, path: path)
                        : try await transport.httpGet(
                            host, address: address, port: slotPort!, path: path, timeout: health.requestTimeout)
                    let via = r.headers[TrafficSwitch.slotHeader.lowercased()]
                    otherSlot = slot.map { via != String($0) } ?? false
                    if (200..<300).contains(r.status) && !otherSlot { break }
                    last =
                        "GET \(url) → \(r.status) \(Self.snippet(r.body))"
                        + (otherSlot ? " (served by slot \(via ?? "?"), not \(slot!) yet)" : "")
                } catch {
                    last = "GET \(url) → \(ErrorText.withoutHost(error))"
                    // No SSH connection to the host: waiting cannot make the app answer.
                    if let e = error as? SSHError, Self.hostUnreachable.contains(e.kind) {
                        return Result(healthy: false, attempts: attempts, detail: "\(last) (host unreachable)")
                    }
                }
                if ContinuousClock.now >= deadline || interrupt?.isRaised == true {
                    return Result(
                        healthy: false, attempts: attempts,
                        detail: "\(last) (after \(attempts) attempts, \(health.deadline)s deadline)")
                }
                try? await Task.sleep(
                    for: .milliseconds(otherSlot ? min(20, Int(health.interval * 1000)) : Int(health.interval * 1000)))
            }
        }
        return Result(healthy: true, attempts: attempts, detail: "live and ready (\(attempts) attempts)")
    }

    static let hostUnreachable: Set<SSHError.Kind> = [
        .connectionLost, .connect, .resolve, .handshake, .hostKeyUnknown, .hostKeyMismatch, .hostKeyCheck,
        .authentication,
    ]

    /// The start of a response body for a message: one line, secrets hidden (an error page may
    /// echo the app's environment or a connection string).
    static func snippet(_ body: String, redactor: Redactor = .standard) -> String {
        let flat = redactor.redact(body).replacing("\n", with: " ").trimmed()
        return flat.isEmpty ? "" : "'\(flat.prefix(120))'"
    }
}
