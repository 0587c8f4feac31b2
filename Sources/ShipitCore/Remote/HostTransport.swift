import FoundationEssentials
import SSH

/// What the deploy needs from a host. The real one is libssh2 (`SSHTransport`); unit tests of the
/// state machine use a fake.
public protocol HostTransport: Sendable {
    func run(_ host: String, _ command: RemoteCommand) async throws -> ExecResult
    /// Runs `command` with the local file at `stdinPath` streamed on its stdin.
    func run(_ host: String, _ command: RemoteCommand, stdinPath: String) async throws -> ExecResult
    /// Runs `command` with `stdin` on its stdin: data that must not be in the command's text,
    /// which the host's process list shows (a release's environment file).
    func run(_ host: String, _ command: RemoteCommand, stdin: Data) async throws -> ExecResult
    /// Copies a file over SFTP (or SCP).
    func upload(_ host: String, localPath: String, remotePath: String) async throws
    /// Whether the host's sshd offers the SFTP subsystem (hardened hosts often do not).
    func sftpAvailable(_ host: String) async -> Bool
    /// Runs `command` until `stop()`, its stdin held open till then; output as it arrives.
    func follow(
        _ host: String, _ command: RemoteCommand, until stop: @escaping @Sendable () -> Bool,
        onOutput: @escaping @Sendable (OutputChannel, Data) -> Void
    ) async throws -> ExecResult
    /// HTTP GET of `path` on address:port as seen from the host (an SSH direct-tcpip tunnel).
    func httpGet(_ host: String, address: String, port: Int, path: String, timeout: Double) async throws -> HTTPResponse
    /// HTTP GET of `path` on the host's public port, from where `health.checkFrom` says.
    func publicGet(_ host: String, health: DeployConfig.Health, path: String) async throws -> HTTPResponse
    func close() async
    /// Starts connecting to `hosts` ahead of their first step (nothing by default).
    func prepare(_ hosts: [String]) async
    /// The hosts among `hosts` that cannot be reached now, with why: a connection refused or timed
    /// out, a name that does not resolve, a failed handshake or login. A host key that does not
    /// match is not "unreachable": the run refuses it as always.
    func unreachable(_ hosts: [String]) async -> [String: String]
}

extension HostTransport {
    public func prepare(_ hosts: [String]) async {}
    public func unreachable(_ hosts: [String]) async -> [String: String] { [:] }
}

/// libssh2 transport: one session per host (opened on first use, reused for every step).
public struct SSHTransport: HostTransport {
    public let fleet: Fleet

    public init(fleet: Fleet) { self.fleet = fleet }

    public func run(_ host: String, _ command: RemoteCommand) async throws -> ExecResult {
        try await onSession(host) { [fleet] in
            try await $0.exec(
                command.rendered, timeout: command.timeout ?? fleet.settings.commandTimeout, captureLimit: 1 << 20)
        }
    }

    public func run(_ host: String, _ command: RemoteCommand, stdinPath: String) async throws -> ExecResult {
        try await onSession(host) { [fleet] in
            try await $0.exec(
                command.rendered, stdinPath: stdinPath, timeout: command.timeout ?? fleet.settings.commandTimeout,
                captureLimit: 1 << 20)
        }
    }

    public func run(_ host: String, _ command: RemoteCommand, stdin: Data) async throws -> ExecResult {
        try await onSession(host) { [fleet] in
            try await $0.exec(
                command.rendered, stdin: stdin, timeout: command.timeout ?? fleet.settings.commandTimeout,
                captureLimit: 1 << 20)
        }
    }

    public func upload(_ host: String, localPath: String, remotePath: String) async throws {
        try await onSession(host) { [fleet] in
            let method: UploadMethod = fleet.settings.upload == .scp ? .scp : .sftp
            try await $0.upload(
                localPath: localPath, remotePath: remotePath, mode: 0o600, method: method,
                timeout: fleet.settings.commandTimeout)
        }
    }

    public func follow(
        _ host: String, _ command: RemoteCommand, until stop: @escaping @Sendable () -> Bool,
        onOutput: @escaping @Sendable (OutputChannel, Data) -> Void
    ) async throws -> ExecResult {
        try await onSession(host) { try await $0.exec(command.rendered, until: stop, onOutput: onOutput) }
    }

    public func sftpAvailable(_ host: String) async -> Bool {
        guard let session = try? await fleet.session(host) else { return false }
        return await session.sftpAvailable(timeout: fleet.settings.connectTimeout)
    }

    /// GET `path` on address:port as seen from the host (through its SSH session): the slots,
    /// which listen on the host alone.
    public func httpGet(_ host: String, address: String, port: Int, path: String, timeout: Double) async throws
        -> HTTPResponse
    {
        try await tunnelGet(
            host, address: address, port: port,
            request: Self.getRequest(host: HostAddress.withPort(address, port), path: path), timeout: timeout)
    }

    /// `request` sent to address:port through the host's SSH session, its answer parsed.
    private func tunnelGet(_ host: String, address: String, port: Int, request: Data, timeout: Double) async throws
        -> HTTPResponse
    {
        let raw = try await onSession(host) {
            try await $0.tunnelRequest(
                host: address, port: port, request: request, maxResponse: 64 * 1024, timeout: timeout)
        }
        return try HTTPResponse.parse(raw)
    }

    /// GET `path` on the host's public port from where `health.check_from` says: by default from
    /// the deployer (through the jump host when there is one) to the address it reaches the host
    /// on, so a listener only the host itself can reach fails the check.
    public func publicGet(_ host: String, health: DeployConfig.Health, path: String) async throws -> HTTPResponse {
        let address = health.probeAddress(of: host)
        let port = health.publicPort
        if let door = health.frontDoor, door.tls != nil {
            // HTTPS with the app's name (SNI and Host), its certificate checked, at this host's address.
            let url = URL(string: "https://\(HostAddress.withPort(door.probeName, port))\(path)")!
            do {
                let r = try await DeployerHTTP.request(
                    "GET", url, timeout: health.requestTimeout, connectTo: address, trusting: door.tls?.ca)
                return HTTPResponse(status: r.status, body: String(decoding: r.body, as: UTF8.self), headers: r.headers)
            } catch {
                throw ShipitError(DeployerHTTP.describe(error))
            }
        }
        let request = Self.getRequest(
            host: health.frontDoor.map { HostAddress.withPort($0.probeName, port) }
                ?? HostAddress.withPort(address, port),
            path: path)
        guard health.checkFrom == .deployer else {
            return try await tunnelGet(
                host, address: address, port: port, request: request, timeout: health.requestTimeout)
        }
        let endpoint = try fleet.settings.endpoint(for: host)
        let raw: Data
        if endpoint.jumps.isEmpty {
            raw = try await SocketExchange.request(
                host: address, port: port, request: request, maxResponse: 64 * 1024,
                timeout: health.requestTimeout)
        } else {
            let jump = try await fleet.jumpHost(endpoint.jumps)
            raw = try await jump.request(
                host: address, port: port, request: request, maxResponse: 64 * 1024,
                timeout: health.requestTimeout)
        }
        return try HTTPResponse.parse(raw)
    }

    private static func getRequest(host: String, path: String) -> Data {
        Data(
            "GET \(path) HTTP/1.0\r\nHost: \(host)\r\nUser-Agent: shipit/\(ShipitVersion.current)\r\nConnection: close\r\n\r\n"
                .utf8)
    }

    /// The host's session for one operation; a session whose connection died is dropped.
    private func onSession<T: Sendable>(_ host: String, _ body: @Sendable (SSHSession) async throws -> T) async throws
        -> T
    {
        let session = try await fleet.session(host)
        do { return try await body(session) } catch let e as SSHError where e.kind == .connectionLost {
            await fleet.forget(host)
            throw e
        }
    }

    public func close() async { await fleet.closeAll() }
    public func prepare(_ hosts: [String]) async { await fleet.prepare(hosts) }
    public func unreachable(_ hosts: [String]) async -> [String: String] { await fleet.unreachable(hosts) }
}
