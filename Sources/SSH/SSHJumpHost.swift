import CLibSSH2
import FoundationEssentials
import ShipitSupport

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// A bastion (ProxyJump): one authenticated SSH session whose `direct-tcpip` channels carry the
/// SSH sessions of the hosts behind it. Each channel is bridged to one end of a socket pair; the
/// target's own libssh2 session runs on the other end, so both host keys are verified and both
/// logins happen end to end, as with OpenSSH's `-J`. One bastion session serves every target
/// behind it. Channels are opened one at a time: libssh2 keeps one channel open in progress per
/// session, and a call for another target while one is pending resumes that one and hands it to
/// the wrong caller (a session to one host talking to another host's sshd). `maxOpening` bounds the
/// opens waiting their turn that are worked on per pass (the rest keep their place).
public final class SSHJumpHost: @unchecked Sendable {
    public let target: SSHTarget
    public let hostKeyFingerprint: String
    private let pump: ChannelPump

    private init(target: SSHTarget, pump: ChannelPump, fingerprint: String) {
        self.target = target
        self.pump = pump
        self.hostKeyFingerprint = fingerprint
    }

    /// Connects to the bastion (through `parent`, for a chain of jumps), verifies its host key and
    /// authenticates.
    public static func connect(
        to target: SSHTarget, options: SSHOptions, via parent: SSHJumpHost? = nil,
        maxOpening: Int = 10
    ) async throws -> SSHJumpHost {
        let socket = try await parent?.openBridge(to: target.host, port: target.port, timeout: options.connectTimeout)
        let conn: Connection = try await withCheckedThrowingContinuation { continuation in
            DetachedThread.start {
                continuation.resume(
                    with: Result { try Connection.open(target: target, options: options, over: socket) })
            }
        }
        let fingerprint = KnownHosts.fingerprint(of: conn)
        let pump = try ChannelPump(connection: conn, maxOpening: maxOpening)
        pump.start()
        return SSHJumpHost(target: target, pump: pump, fingerprint: fingerprint)
    }

    /// An SSH session to `target` as the bastion reaches it (`target.host` is resolved there).
    public func connect(to target: SSHTarget, options: SSHOptions) async throws -> SSHSession {
        let socket = try await openBridge(to: target.host, port: target.port, timeout: options.connectTimeout)
        return try await SSHSession.connect(to: target, options: options, over: socket)
    }

    /// Sends `request` to host:port as the bastion reaches it and returns the answer (the far end
    /// closes): a check of a public port from where the deployer stands, one hop further.
    public func request(host: String, port: Int, request: Data, maxResponse: Int, timeout: Double) async throws -> Data
    {
        let socket: Int32
        do { socket = try await openBridge(to: host, port: port, timeout: timeout) } catch let e as SSHError {
            throw SSHError(
                kind: e.kind == .timeout ? .timeout : .tunnel, host: host,
                operation: "connect to \(host):\(port) through jump host \(target.host)", message: e.message)
        }
        return try await SocketExchange.request(
            over: socket, host: host, request: request, maxResponse: maxResponse, timeout: timeout)
    }

    /// A connected socket whose far end is host:port as seen from the bastion.
    func openBridge(to host: String, port: Int, timeout: Double) async throws -> Int32 {
        try await withCheckedThrowingContinuation { continuation in
            pump.open(host: host, port: port, timeout: timeout) { continuation.resume(with: $0) }
        }
    }

    /// Ends every bridged session (their sockets close) and disconnects from the bastion.
    public func close() async {
        await withCheckedContinuation { continuation in pump.stop { continuation.resume() } }
    }
}
