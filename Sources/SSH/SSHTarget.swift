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

    /// `user@host`, `user@host:port`, `user@[2001:db8::5]:port` (a port after a bare IPv6 literal
    /// would read as its last group).
    public var description: String {
        guard port != 22 else { return "\(user)@\(host)" }
        return host.contains(":") ? "\(user)@[\(host)]:\(port)" : "\(user)@\(host):\(port)"
    }
}
