import ArgumentParser
import FoundationEssentials
import SSH
import ShipitCore

/// The connection flags every command accepts; they override the config file.
struct HostOptions: ParsableArguments {
    @Option(name: .long, help: "Comma-separated hosts (names or addresses).")
    var hosts: String?

    @Option(name: .long, help: "SSH user (default: the config's ssh.user, else $USER).")
    var user: String?

    @Option(name: .long, help: "SSH port.")
    var port: Int?

    @Option(name: .long, help: ArgumentHelp("Private key file; repeat to try several.", valueName: "file"))
    var identity: [String] = []

    @Option(
        name: .customLong("known-hosts"),
        help: ArgumentHelp("known_hosts file to verify host keys against.", valueName: "file"))
    var knownHosts: String?

    @Flag(
        name: .customLong("accept-new-host-keys"),
        help: "Trust and record keys of hosts not yet in known_hosts (a changed key is still refused).")
    var acceptNewHostKeys = false

    @Option(name: .customLong("connect-timeout"), help: "Seconds to connect and authenticate.")
    var connectTimeout: Double?

    @Option(name: .long, help: "Hosts worked on at once.")
    var parallel: Int?

    @Option(
        name: .customLong("ssh-config"),
        help: ArgumentHelp(
            "OpenSSH client config for host aliases, users, ports, keys, ProxyJump (default: ~/.ssh/config; 'none' to read none).",
            valueName: "file"))
    var sshConfig: String?

    @Option(
        name: .customLong("proxy-jump"),
        help: ArgumentHelp(
            "Jump host(s) in front of every host, comma-separated in order ('none' to ignore ssh_config's).",
            valueName: "[user@]host[:port]"))
    var proxyJump: String?

    /// The numbers among the flags, in the config's ranges (`ssh.port`, `ssh.connect_timeout`,
    /// `parallel`): checked before the config is read or any host is touched.
    func checkFlags() throws {
        try FlagRange.check(port, flag: "--port", 1...65535)
        try FlagRange.check(connectTimeout, flag: "--connect-timeout", 0.1...600)
        try FlagRange.check(parallel, flag: "--parallel", 1...1000)
    }

    /// The flags given, as config keys (so the ledger's config hash covers them).
    var overrides: [(String, String)] {
        var o: [(String, String)] = []
        if let user { o.append(("ssh.user", user)) }
        if let port { o.append(("ssh.port", String(port))) }
        if !identity.isEmpty { o.append(("ssh.identity", identity.joined(separator: ", "))) }
        if let knownHosts { o.append(("ssh.known_hosts", knownHosts)) }
        if acceptNewHostKeys { o.append(("ssh.accept_new_host_keys", "true")) }
        if let connectTimeout { o.append(("ssh.connect_timeout", String(connectTimeout))) }
        if let parallel { o.append(("parallel", String(parallel))) }
        if let sshConfig { o.append(("ssh.config", sshConfig)) }
        if let proxyJump { o.append(("ssh.proxy_jump", proxyJump)) }
        return o
    }

    func apply(to base: ConnectionSettings) throws -> ConnectionSettings {
        try checkFlags()
        var s = base
        if let user { s.user = user }
        if let port { s.port = port }
        if !identity.isEmpty { s.identities = identity }
        if let knownHosts { s.knownHostsPath = knownHosts }
        if acceptNewHostKeys { s.hostKeyPolicy = .acceptNew }
        if let connectTimeout { s.connectTimeout = connectTimeout }
        if let parallel { s.parallel = parallel }
        if let sshConfig {
            s.sshConfigPath = sshConfig == "none" ? "none" : URL(fileURLWithPath: sshConfig).standardizedFileURL.path
            try s.loadSSHConfig()
        } else if s.sshConfig == nil && s.sshConfigPath == nil {
            try s.loadSSHConfig()
        }
        if let proxyJump {
            let hops = proxyJump.split(separator: ",").map { $0.trimmed() }
            s.proxyJump = hops == ["none"] ? [] : hops
            for hop in s.proxyJump ?? [] {
                _ = try s.jumpHop(hop, defaultUser: s.user, fallback: s.sshOptions, field: "--proxy-jump")
            }
        }
        return s
    }
}
