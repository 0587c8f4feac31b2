import Foundation
import SSH

/// What the deploy needs from a host. The real one is libssh2 (`SSHTransport`); unit tests of the
/// state machine use a fake.
public protocol HostTransport: Sendable {
    func run(_ host: String, _ command: RemoteCommand) async throws -> ExecResult
    func upload(_ host: String, localPath: String, remotePath: String) async throws
    /// HTTP GET of `path` on address:port as seen from the host (an SSH direct-tcpip tunnel).
    func httpGet(_ host: String, address: String, port: Int, path: String, timeout: Double) async throws -> HTTPResponse
    func close() async
}

/// libssh2 transport: one session per host (opened on first use, reused for every step).
public struct SSHTransport: HostTransport {
    public let fleet: Fleet

    public init(fleet: Fleet) { self.fleet = fleet }

    public func run(_ host: String, _ command: RemoteCommand) async throws -> ExecResult {
        let session = try await fleet.session(host)
        return try await session.exec(command.rendered, timeout: command.timeout ?? fleet.settings.commandTimeout, captureLimit: 1 << 20)
    }

    public func upload(_ host: String, localPath: String, remotePath: String) async throws {
        let session = try await fleet.session(host)
        try await session.upload(localPath: localPath, remotePath: remotePath, mode: 0o600, method: .sftp, timeout: fleet.settings.commandTimeout)
    }

    public func httpGet(_ host: String, address: String, port: Int, path: String, timeout: Double) async throws -> HTTPResponse {
        let session = try await fleet.session(host)
        let request = "GET \(path) HTTP/1.0\r\nHost: \(address):\(port)\r\nUser-Agent: shipit/\(ShipitVersion.current)\r\nConnection: close\r\n\r\n"
        let raw = try await session.tunnelRequest(host: address, port: port, request: Data(request.utf8), maxResponse: 64 * 1024, timeout: timeout)
        return try HTTPResponse.parse(raw)
    }

    public func close() async { await fleet.closeAll() }
}
