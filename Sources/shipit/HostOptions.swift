import ArgumentParser
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

    /// The flags as the core applies them to the connection settings.
    var overrides: ConnectionOverrides {
        ConnectionOverrides(
            user: user, port: port, identities: identity, knownHosts: knownHosts,
            acceptNewHostKeys: acceptNewHostKeys, connectTimeout: connectTimeout, parallel: parallel,
            sshConfig: sshConfig, proxyJump: proxyJump)
    }

    /// The numbers among the flags, checked before the config is read or any host is touched.
    func checkFlags() throws { try overrides.checkRanges() }

    func apply(to base: ConnectionSettings) throws -> ConnectionSettings { try overrides.apply(to: base) }
}
