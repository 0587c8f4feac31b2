#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// IP address literals, and names resolved on the deployer. A listener must bind an address: a name
/// resolved on the host can be one only the host reaches (Debian maps its own name to 127.0.1.1).
public enum IPAddress {
    public static func isIPv4(_ text: String) -> Bool {
        var a = in_addr()
        return inet_pton(AF_INET, text, &a) == 1
    }

    public static func isIPv6(_ text: String) -> Bool {
        var a = in6_addr()
        return inet_pton(AF_INET6, text, &a) == 1
    }

    public static func isLiteral(_ text: String) -> Bool { isIPv4(text) || isIPv6(text) }

    /// The address `name` resolves to on this machine (IPv4 first, as most deployers connect), or
    /// nil. A literal is returned as it is.
    public static func resolve(_ name: String) -> String? {
        if isLiteral(name) { return name }
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        #if canImport(Glibc)
            hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        #else
            hints.ai_socktype = SOCK_STREAM
        #endif
        var list: UnsafeMutablePointer<addrinfo>?
        guard getaddrinfo(name, nil, &hints, &list) == 0, let first = list else { return nil }
        defer { freeaddrinfo(list) }
        var found: [String] = []
        var cursor: UnsafeMutablePointer<addrinfo>? = first
        while let ai = cursor {
            cursor = ai.pointee.ai_next
            var buf = [CChar](repeating: 0, count: Int(NI_MAXHOST))
            if getnameinfo(
                ai.pointee.ai_addr, ai.pointee.ai_addrlen, &buf, socklen_t(buf.count), nil, 0, NI_NUMERICHOST) == 0
            {
                found.append(String(cString: buf))
            }
        }
        return found.first(where: isIPv4) ?? found.first
    }
}
