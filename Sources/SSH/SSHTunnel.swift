import Foundation

/// A direct-tcpip channel kept open for several exchanges. Closing it is the caller's job.
public final class SSHTunnel: Sendable {
    let session: SSHSession
    let channel: ChannelHandle

    init(session: SSHSession, channel: ChannelHandle) {
        self.session = session
        self.channel = channel
    }

    public func write(_ data: Data, timeout: Double = 5) async throws {
        let channel = self.channel
        try await session.onQueue { conn in
            try conn.tunnelWrite(channel.pointer, data, deadline: ContinuousClock.now.advanced(by: .milliseconds(Int(timeout * 1000))))
        }
    }

    public func readToEnd(maxBytes: Int = 1024 * 1024, timeout: Double = 5) async throws -> Data {
        let channel = self.channel
        return try await session.onQueue { conn in
            try conn.tunnelReadToEnd(channel.pointer, maxBytes: maxBytes, deadline: ContinuousClock.now.advanced(by: .milliseconds(Int(timeout * 1000))))
        }
    }

    public func close() async {
        let channel = self.channel
        _ = try? await session.onQueue { conn in conn.closeChannel(channel.pointer) }
    }
}
