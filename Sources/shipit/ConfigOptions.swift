import ArgumentParser
import FoundationEssentials
import ShipitCore

/// `--config`, `--stage` and the host flags, turned into one validated config.
struct ConfigOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp("Config file.", valueName: "file"))
    var config: String = "shipit.yml"

    @Option(name: .long, help: "Stage overlay: merges shipit.<stage>.yml over the config.")
    var stage: String?

    @Flag(name: .long, help: "Print NDJSON events (one JSON object per line) for CI.")
    var json = false

    @OptionGroup var hostOptions: HostOptions

    @Option(
        name: .long,
        help: ArgumentHelp(
            "Only the hosts with one of these roles (hosts[].roles; a host without roles is 'web').",
            valueName: "role,…"))
    var roles: String?

    /// `wholeHosts`: a deploy or rollback, which switches a host for all its roles at once.
    func load(wholeHosts: Bool = false) throws -> DeployConfig {
        try hostOptions.checkFlags()
        var cfg = try DeployConfig.load(file: config, stage: stage)
        try HostSelection(hosts: hostOptions.hosts, roles: roles).apply(to: &cfg, wholeHosts: wholeHosts)
        try cfg.apply(hostOptions.overrides)
        try cfg.connection.checkHostNames(cfg.hosts)
        try cfg.resolveAddresses()
        try cfg.connection.validate()
        cfg.passedFlags = Self.connectionFlags(CommandLine.arguments)
        return cfg
    }

    /// The connection and host flags of `arguments` (with their values), as given.
    static func connectionFlags(_ arguments: [String]) -> [String] {
        let valued: Set = [
            "--hosts", "--roles", "--user", "--port", "--identity", "--known-hosts", "--connect-timeout",
            "--ssh-config",
            "--proxy-jump",
        ]
        let bare: Set = ["--accept-new-host-keys"]
        var out: [String] = []
        var i = 1
        while i < arguments.count {
            let a = arguments[i]
            let name = String(a.split(separator: "=", maxSplits: 1).first ?? "")
            if bare.contains(a) {
                out.append(a)
            } else if valued.contains(name) {
                if a.contains("=") {
                    out.append(a)
                } else if i + 1 < arguments.count {
                    out += [a, arguments[i + 1]]
                    i += 1
                }
            }
            i += 1
        }
        return out
    }

    /// `load`, for a command that prints or records hosts' text: the config's secrets resolved
    /// only so every value of theirs is masked in it (a source that fails is a warning).
    func loadMaskingSecrets(wholeHosts: Bool = false) async throws -> DeployConfig {
        let cfg = try load(wholeHosts: wholeHosts)
        await cfg.resolveSecretsForMasking(warn: Console.shared.err)
        return cfg
    }
}
