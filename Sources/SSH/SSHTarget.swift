/// Where to connect and as whom.
public struct SSHTarget: Sendable, Hashable, CustomStringConvertible {
    public var host: String
    public var port: Int
    public var user: String

    public init(host: String, port: Int = 22, user: String) {
        self.host = host
        self.port = port
        self.user = user
    }

    /// The name known_hosts uses: `host` on port 22, `[host]:port` elsewhere.
    public var knownHostsName: String { port == 22 ? host : "[\(host)]:\(port)" }

    public var description: String { port == 22 ? "\(user)@\(host)" : "\(user)@\(host):\(port)" }
}
