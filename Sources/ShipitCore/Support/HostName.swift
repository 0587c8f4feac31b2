import FoundationEssentials
import ShipitSupport

/// Validates host names and addresses before anything is sent: a host string ends up in known_hosts
/// lookups, log lines and remote commands, so only DNS names, IPv4 and IPv6 literals pass (the rule
/// is `HostAddress`'s).
public enum HostName {
    public static func validate(_ host: String, field: String) throws {
        _ = try normalized(host, field: field)
    }

    /// The host as shipit uses it: checked, an IPv6 literal without brackets (`[::1]` is `::1`).
    /// A port is refused: it is given with --port / ssh.port.
    public static func normalized(_ host: String, field: String) throws -> String {
        try HostAddress.parse(host, field: field).host
    }

    /// Parses `a,b,c` (`user@host` and `host:port` are refused here: use --user/--port).
    public static func parseList(_ text: String, field: String) throws -> [String] {
        let given = text.split(separator: ",", omittingEmptySubsequences: true).map { $0.trimmed() }
        guard !given.isEmpty else { throw ShipitError.input("\(field): no hosts given") }
        let hosts = try given.map { try normalized($0, field: field) }
        var seen = Set<String>()
        for h in hosts where !seen.insert(h).inserted {
            throw ShipitError.input("\(field): host \(h) is listed twice")
        }
        return hosts
    }

    static func debugQuoted(_ s: String) -> String {
        "\""
            + s.unicodeScalars.map {
                $0.isASCII && $0.value >= 0x20 && $0.value < 0x7f ? String($0) : "\\u{\(String($0.value, radix: 16))}"
            }.joined() + "\""
    }
}
