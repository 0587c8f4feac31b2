import FoundationEssentials

extension DeployConfig {
    public struct Health: Sendable, Equatable {
        /// Where the public port is smoke-tested from.
        public enum CheckFrom: String, Sendable {
            /// The deployer connects to the address it reaches the host on (through the jump host
            /// when there is one): a green deploy means the port answers from outside the host.
            case deployer
            /// Through the host's SSH session, on the host itself: for a public port the deployer
            /// cannot reach by design (a private network behind a load balancer).
            case host
        }

        public var port: Int
        public var live: String = "/health/live"
        public var ready: String = "/health/ready"
        /// What the public listener binds: nil, every address of the host; `reached`
        /// (`Health.reached`), the address shipit reaches the host on; else an IP address.
        public var address: String?
        public var checkFrom: CheckFrom = .deployer
        /// Seconds to keep retrying before a host counts as unhealthy.
        public var deadline: Double = 10
        /// Seconds between attempts.
        public var interval: Double = 0.2
        /// Seconds one HTTP request may take.
        public var requestTimeout: Double = 2
        /// `traffic.hosts` and the rest of the front door: the public check asks for the app's
        /// name on the front door's port (HTTPS with TLS).
        public var frontDoor: FrontDoorSettings?
        /// The port the public check asks: the front door's HTTPS port with TLS, else `port`.
        public var publicPort: Int { frontDoor?.publicPort ?? port }

        /// What the public check asks for, as an operator reads it: the URL, and with a front door
        /// the address it goes to (the URL names the app).
        public func publicURL(of host: String, path: String) -> String {
            guard let door = frontDoor else {
                return "http://\(HostAddress.withPort(probeAddress(of: host), port))\(path)"
            }
            let scheme = door.tls == nil ? "http" : "https"
            return "\(scheme)://\(HostAddress.withPort(door.probeName, publicPort))\(path) at \(probeAddress(of: host))"
        }
        /// Hosts named by an ssh_config alias: the address ssh_config gives them (`HostName`).
        public var hostAddresses: [String: String] = [:]

        /// The `address:` value that binds the address shipit reaches each host on.
        public static let reached = "reached"

        /// The address shipit reaches `host` on: its ssh_config `HostName`, else the name in
        /// `hosts:` (with `address: reached`, resolved on the deployer to an IP address).
        public func reachedAddress(of host: String) -> String { hostAddresses[host] ?? host }

        /// What the public listener (the proxy, or the app without one) binds on `host`: never a
        /// name, which the host would resolve itself.
        public func bindAddress(of host: String) -> String {
            switch address {
            case nil: return "0.0.0.0"
            case Self.reached?: return reachedAddress(of: host)
            case let literal?: return literal
            }
        }

        /// What the traffic switch's slots (and the image strategy's slot containers) bind: the
        /// loopback when the public listener takes every address (the slots are not public), else
        /// the same address as the public listener (hosts that share a network, each on its own
        /// address).
        public func slotAddress(of host: String) -> String {
            address == nil ? "127.0.0.1" : bindAddress(of: host)
        }

        /// Where the public port is checked: from the deployer, the address the listener binds
        /// when `address` names one, else the address it reaches the host on; from the host, the
        /// address the listener binds (the loopback for all addresses).
        public func probeAddress(of host: String) -> String {
            switch checkFrom {
            case .deployer:
                return address == nil || address == Self.reached ? reachedAddress(of: host) : bindAddress(of: host)
            case .host: return address == nil ? "127.0.0.1" : bindAddress(of: host)
            }
        }
    }
}

extension DeployConfig.Health {
    /// `health:` in shipit.yml: the public port and its checks.
    static func parse(_ hr: YAMLReader) throws -> DeployConfig.Health {
        typealias Health = DeployConfig.Health
        let m = try hr.mapping(allowed: [
            "port", "live", "ready", "address", "check_from", "deadline", "interval", "request_timeout",
        ])
        guard let port = m["port"] else { throw hr.fail("missing required key 'port'") }
        var h = Health(port: try port.int(1...65535))
        for (key, kp) in [("live", \Health.live), ("ready", \Health.ready)]
            as [(String, WritableKeyPath<Health, String>)]
        {
            if let v = m[key] {
                let p = try v.string()
                guard p.hasPrefix("/"), p.allSatisfy({ $0.isASCII && !$0.isWhitespace && $0 != "\"" }) else {
                    throw v.fail("expected a URL path starting with '/'")
                }
                h[keyPath: kp] = p
            }
        }
        if let v = m["address"] {
            let a = try v.string()
            var parsed: HostAddress?
            if a != Health.reached { try v.check { parsed = try HostAddress.parse(a, field: $0) } }
            guard a == Health.reached || (parsed.map { $0.kind != .name } ?? false) else {
                throw v.fail(
                    "expected an IP address for the public listener to bind, or 'reached' (the address shipit reaches each host on); leave it out to bind every address. A name would be resolved on the host, which may map it to a loopback address (Debian: 127.0.1.1)"
                )
            }
            h.address = parsed?.host ?? a
        }
        if let v = m["check_from"] {
            guard let c = Health.CheckFrom(rawValue: try v.string()) else {
                throw v.fail("expected 'deployer' or 'host'")
            }
            h.checkFrom = c
        }
        // A loopback listener answers the host alone: checked from the deployer, its own
        // loopback would answer (or not) for it.
        if let a = h.address, h.checkFrom == .deployer, a == "::1" || a.hasPrefix("127.") {
            throw (m["address"] ?? hr).fail(
                "\(a) is a loopback address: only the host itself reaches it, and a green smoke test from the deployer would mean nothing. Bind an address users reach, or say so with health.check_from: host"
            )
        }
        if let v = m["deadline"] { h.deadline = try v.double(0.1...3600) }
        if let v = m["interval"] { h.interval = try v.double(0.01...60) }
        if let v = m["request_timeout"] { h.requestTimeout = try v.double(0.1...60) }
        return h
    }
}
