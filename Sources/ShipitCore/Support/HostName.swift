/// Validates host names and addresses before anything is sent: a host string ends up in known_hosts
/// lookups, log lines and remote commands, so only DNS names, IPv4 and IPv6 literals pass.
public enum HostName {
    private static let allowed = Set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-:_")

    public static func validate(_ host: String, field: String) throws {
        guard !host.isEmpty else { throw ShipitError.input("\(field): empty host name") }
        guard host.utf8.count <= 253 else { throw ShipitError.input("\(field): host name '\(host.prefix(40))…' is longer than 253 characters") }
        if let bad = host.first(where: { !allowed.contains($0) }) {
            throw ShipitError.input("\(field): host name \(debugQuoted(host)) contains \(debugQuoted(String(bad))), which is not allowed in a host name")
        }
        guard !host.hasPrefix("-"), !host.hasPrefix("."), !host.contains("..") else {
            throw ShipitError.input("\(field): \(debugQuoted(host)) is not a valid host name")
        }
    }

    /// Parses `a,b,c` (also `user@host` and `host:port` are refused here: use --user/--port).
    public static func parseList(_ text: String, field: String) throws -> [String] {
        let hosts = text.split(separator: ",", omittingEmptySubsequences: true).map { $0.trimmed() }
        guard !hosts.isEmpty else { throw ShipitError.input("\(field): no hosts given") }
        for h in hosts { try validate(h, field: field) }
        var seen = Set<String>()
        for h in hosts where !seen.insert(h).inserted {
            throw ShipitError.input("\(field): host \(h) is listed twice")
        }
        return hosts
    }

    static func debugQuoted(_ s: String) -> String {
        "\"" + s.unicodeScalars.map { $0.isASCII && $0.value >= 0x20 && $0.value < 0x7f ? String($0) : "\\u{\(String($0.value, radix: 16))}" }.joined() + "\""
    }
}

import SSH
import FoundationEssentials
