import FoundationEssentials

/// The one rule for a host name or address, wherever one is given: `hosts:`, `--hosts`,
/// `health.address`, a jump spec, ssh_config's `HostName`. A host is a DNS name (labels of
/// letters, digits, `-` and `_`), an IPv4 address (four numbers 0–255) or an IPv6 literal, bare or
/// in brackets; a `:port` follows only where a port is allowed (a jump spec), an IPv6 literal's
/// then in brackets (`[2001:db8::5]:2222`; bare, `2001:db8::5` is all address). Everything else is
/// refused with the field named, before any host is touched.
///
/// A host string ends up in known_hosts lookups, nginx's config, podman's `-p`, an HTTP Host
/// header and remote commands: `host` is always the bare form, and `withPort` writes an IPv6
/// literal in brackets wherever a port follows it.
public struct HostAddress: Sendable, Hashable, CustomStringConvertible {
    public enum Kind: Sendable { case name, ipv4, ipv6 }

    /// The name or address, without brackets.
    public let host: String
    public let kind: Kind
    /// Only where the field allows one.
    public let port: Int?

    /// `text` checked. `allowsPort`: `host:port` / `[v6]:port` is accepted (jump specs); elsewhere
    /// a port is refused, naming the flag or key that sets it.
    public static func parse(_ text: String, field: String, allowsPort: Bool = false) throws -> HostAddress {
        func refuse(_ why: String) -> ShipitError {
            ShipitError.input("\(field): \(HostName.debugQuoted(String(text.prefix(80)))) \(why)")
        }
        guard !text.isEmpty else { throw ShipitError.input("\(field): empty host name") }
        guard text.utf8.count <= 260 else { throw refuse("is longer than 253 characters") }
        if let bad = text.unicodeScalars.first(where: { !allowed.contains($0) }) {
            throw ShipitError.input(
                "\(field): host name \(HostName.debugQuoted(text)) contains \(HostName.debugQuoted(String(bad))), which is not allowed in a host name"
            )
        }
        var body = Substring(text)
        var port: Int?
        var bracketed = false
        if body.hasPrefix("[") {
            guard let close = body.firstIndex(of: "]") else { throw refuse("has '[' without ']'") }
            let after = body[body.index(after: close)...]
            body = body[body.index(after: body.startIndex)..<close]
            bracketed = true
            if !after.isEmpty {
                guard after.hasPrefix(":") else { throw refuse("has text after ']'") }
                port = try parsePort(after.dropFirst(), refuse)
            }
        } else if body.filter({ $0 == ":" }).count == 1, let colon = body.firstIndex(of: ":") {
            port = try parsePort(body[body.index(after: colon)...], refuse)
            body = body[..<colon]
        }
        if port != nil && !allowsPort {
            throw refuse(
                "has a port: give the port on its own (--port, ssh.port); an IPv6 address is written without one, e.g. 2001:db8::5"
            )
        }
        let host = String(body)
        if bracketed || host.contains(":") {
            guard isIPv6(host) else { throw refuse("is not a valid IPv6 address") }
            return HostAddress(host: host.lowercased(), kind: .ipv6, port: port)
        }
        let labels = host.split(separator: ".", omittingEmptySubsequences: false)
        if labels.allSatisfy({ !$0.isEmpty && $0.allSatisfy(\.isASCIIDigit) }) {
            guard isIPv4(labels) else { throw refuse("is not a valid IPv4 address") }
            return HostAddress(host: host, kind: .ipv4, port: port)
        }
        guard host.utf8.count <= 253 else { throw refuse("is longer than 253 characters") }
        for label in labels {
            guard !label.isEmpty, label.utf8.count <= 63, !label.hasPrefix("-"), !label.hasSuffix("-"),
                label.allSatisfy({ $0.isASCIILetterOrDigit || $0 == "-" || $0 == "_" })
            else {
                throw refuse("is not a valid host name")
            }
        }
        return HostAddress(host: host, kind: .name, port: port)
    }

    /// `host:port` as URLs, nginx (`listen`, `server`), podman's `-p` and the Host header want it:
    /// an IPv6 literal in brackets.
    public static func withPort(_ host: String, _ port: Int) -> String { "\(bracketed(host)):\(port)" }

    /// An IPv6 literal in brackets (where something may follow it after a `:`); anything else as is.
    public static func bracketed(_ host: String) -> String {
        host.contains(":") && !host.hasPrefix("[") ? "[\(host)]" : host
    }

    public var description: String { port.map { Self.withPort(host, $0) } ?? host }

    /// Characters a host, its brackets and a port may contain at all: anything else (spaces,
    /// quotes, `;`, `$`, `/`, `@`, `%`, newlines, non-ASCII) never reaches a parser below.
    static let allowed = Set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-:_[]".unicodeScalars)

    static func parsePort(_ text: Substring, _ refuse: (String) -> ShipitError) throws -> Int {
        guard text.count <= 5, text.allSatisfy(\.isASCIIDigit), let p = Int(text), (1...65535).contains(p) else {
            throw refuse("has no valid port (1-65535) after ':'")
        }
        return p
    }

    static func isIPv4(_ labels: [Substring]) -> Bool {
        // Four numbers without leading zeros (`010` is octal to some resolvers, decimal to others).
        labels.count == 4
            && labels.allSatisfy { $0.count <= 3 && (Int($0) ?? 256) <= 255 && ($0 == "0" || !$0.hasPrefix("0")) }
    }

    /// RFC 4291 text form: eight groups of 1–4 hex digits, one `::` standing for one or more zero
    /// groups, the last two groups optionally an IPv4 address. Zones (`%eth0`) are not taken.
    static func isIPv6(_ text: String) -> Bool {
        guard text.count >= 2, !text.contains(":::") else { return false }
        let halves = text.components(separatedBy: "::")
        guard halves.count <= 2 else { return false }
        var groups = 0
        for (h, half) in halves.enumerated() where !half.isEmpty {
            let parts = half.split(separator: ":", omittingEmptySubsequences: false)
            for (i, part) in parts.enumerated() {
                if part.contains(".") {
                    // An embedded IPv4 address, only as the very last part.
                    guard h == halves.count - 1, i == parts.count - 1,
                        isIPv4(part.split(separator: ".", omittingEmptySubsequences: false))
                    else { return false }
                    groups += 2
                } else {
                    guard (1...4).contains(part.count), part.allSatisfy(\.isHexDigit) else { return false }
                    groups += 1
                }
            }
        }
        return halves.count == 2 ? groups <= 7 : groups == 8
    }
}

extension Character {
    var isASCIIDigit: Bool { isASCII && isNumber }
    var isASCIILetterOrDigit: Bool { isASCII && (isLetter || isNumber) }
}
