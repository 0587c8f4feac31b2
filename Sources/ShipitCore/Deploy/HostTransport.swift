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

public struct HTTPResponse: Sendable, Equatable {
    public var status: Int
    public var body: String

    public static func parse(_ raw: Data) throws -> HTTPResponse {
        let text = String(decoding: raw, as: UTF8.self)
        guard let firstLine = text.split(separator: "\r\n", maxSplits: 1).first ?? text.split(separator: "\n").first else {
            throw ShipitError("empty HTTP response")
        }
        let parts = firstLine.split(separator: " ")
        guard parts.count >= 2, parts[0].hasPrefix("HTTP/"), let status = Int(parts[1]) else {
            throw ShipitError("not an HTTP response: \(firstLine.prefix(80))")
        }
        let body = text.range(of: "\r\n\r\n").map { String(text[$0.upperBound...]) } ?? ""
        return HTTPResponse(status: status, body: body)
    }
}
