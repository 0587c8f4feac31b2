import FoundationEssentials
import ShipitSupport

/// The validated contents of shipit.yml (plus a stage overlay). Every key is documented in
/// docs/configuration.md.
public struct DeployConfig: Sendable {
    public var file: String
    public var app: String
    public var stage: String?
    /// The command line's connection and host flags (`--identity`, `--hosts`…), passed on to the
    /// processes shipit runs that call it back (certbot's hooks), so they reach the same hosts.
    public var passedFlags: [String] = []
    public var hosts: [String]
    public var connection: ConnectionSettings
    public var strategy: Strategy
    public var deployTo: String
    public var keepReleases: Int
    public var shared: [String]
    public var start: String?
    /// Symlink without the traffic switch: how the app is stopped (run in the release directory)
    /// when a first deploy fails after its switch and there is no release to go back to.
    public var stop: String?
    public var health: Health?
    /// Free space a host needs, as a multiple of the artifact size (tarball + extracted copy).
    public var diskFactor: Double
    public var hooksDir: String
    /// What messages show for the ledger: the SQLite path, or the shared ledger's URL (no password).
    public var ledgerPath: String
    public var ledger: LedgerLocation = .sqlite(path: "")
    /// `strategy: image` settings (required then, refused otherwise).
    public var image: ImageSettings?
    /// Roles per host (`hosts: [{host: web-1, roles: [web]}]`).
    public var roles: [String: [String]] = [:]
    /// Processes beside the app (`roles:`), restarted with each release on their hosts.
    public var processRoles: [ProcessRole] = []
    public var triage = TriageSettings()
    public var migrations: MigrationSettings?
    /// The traffic switch (nil: the app restarts in place, dropping connections meanwhile).
    public var traffic: TrafficSettings?
    /// Who keeps the app running after the deploy (systemd units, or nothing).
    public var supervisor = SupervisorSettings()
    /// Hosts a run may leave out because they cannot be reached.
    public var tolerate = TolerateSettings()
    /// `env:` and `secrets:`: the environment each release runs with.
    public var releaseEnv = ReleaseEnvSettings()
    /// Their values, resolved on the deployer at the start of a deploy (nil before, or without any).
    public var resolvedEnv: ReleaseEnvironment?
    /// The resolved environment's keyed identity (8 hex digits), once the ledger's key is known.
    public var envIdentity: String?
    /// Progressive rollout: steps, bake, gates (nil: every host in one step).
    public var rollout: RolloutSettings?
    /// Webhooks told when a run starts and ends.
    public var notify = NotifySettings()
    /// Where the app's logs are on each host (`shipit logs`, triage).
    public var logs = LogSettings(source: .file(""))
    /// sha256 of the effective settings, so config-only changes show up in the ledger.
    public var configHash: String
    /// The effective config flattened to `key.path = value` (after the stage overlay and flag
    /// overrides); what the ledger stores (redacted) and what `changes` diffs.
    public var settings: [String: String] = [:]

    public var layout: HostLayout { HostLayout(deployTo: deployTo) }
}

extension DeployConfig {
    static let topKeys: Set<String> = [
        "app", "hosts", "ssh", "strategy", "deploy_to", "keep_releases", "shared", "start", "stop",
        "health", "parallel", "disk_factor", "hooks", "ledger", "image", "triage", "migrations", "traffic", "rollout",
        "notify", "logs", "roles", "supervisor", "env", "secrets", "tolerate",
    ]

    /// Loads `file`, and `shipit.<stage>.yml` next to it merged over it when `stage` is given.
    public static func load(file: String, stage: String? = nil) throws -> DeployConfig {
        if let stage { try Names.identifier(stage, field: "--stage") }
        var reader = try YAMLReader.load(file: file)
        if let stage {
            let overlayFile = FilePath.join(FilePath.directory(of: file), "shipit.\(stage).yml")
            guard FileManager.default.fileExists(atPath: overlayFile) else {
                throw ShipitError.input("--stage \(stage): no overlay file \(overlayFile)")
            }
            let overlay = try YAMLReader.load(file: overlayFile)
            _ = try overlay.mapping(allowed: topKeys)
            reader = YAMLReader(file: "\(file)+\(overlayFile)", node: merge(reader.node, overlay.node), path: "")
        }
        return try validated(reader, file: file, stage: stage)
    }

    /// The config in `yaml`, as if read from shipit.yml in `directory` (against which its relative
    /// paths resolve: hooks, keys, known_hosts, the SQLite ledger): what `load` does, without a file.
    public static func parse(
        yaml: String, directory: String = FileManager.default.currentDirectoryPath
    ) throws -> DeployConfig {
        let file = FilePath.join(directory, "shipit.yml")
        return try validated(YAMLReader.parse(yaml, file: file), file: file, stage: nil)
    }

    /// The parsed sections, with the settings the ledger records and their hash.
    private static func validated(_ reader: YAMLReader, file: String, stage: String?) throws -> DeployConfig {
        var config = try parse(reader, file: file)
        config.stage = stage
        // Each stage its own certificate in the ACME directory: staging's must never reach production.
        if let stage, var acme = config.traffic?.frontDoor?.acme {
            acme.certName += "-" + stage
            config.traffic?.frontDoor?.acme = acme
            config.traffic?.frontDoor?.tls?.cert = acme.chainFile
            config.traffic?.frontDoor?.tls?.key = acme.keyFile
            config.health?.frontDoor = config.traffic?.frontDoor
        }
        config.settings = flatten(reader.node)
        if let stage { config.settings["(stage)"] = stage }
        try config.resolveAddresses()
        config.rehash()
        return config
    }

    /// Hosts that are ssh_config aliases get their `HostName` as the address the app, the proxy
    /// and the health checks use on the host (an alias means nothing there). Call again after the
    /// hosts or the ssh_config change (flags).
    ///
    /// With `health.address: reached` each host's address is resolved here, on the deployer, to the
    /// IP address its listener binds; a name that does not resolve is an error naming it.
    public mutating func resolveAddresses() throws {
        guard let h = health else { return }
        var map: [String: String] = [:]
        for host in hosts {
            var a = connection.address(of: host)
            if h.address == Health.reached {
                guard let ip = IPAddress.resolve(a) else {
                    throw ShipitError.input(
                        "health.address: reached: host \(a) does not resolve to an address on this machine; list it by address, or give health.address an IP address"
                    )
                }
                a = ip
            }
            if a != host { map[host] = a }
        }
        health?.hostAddresses = map
    }

    /// Records a flag that overrides the file (e.g. `--hosts`), so the hash covers what really ran.
    public mutating func override(_ key: String, _ value: String) {
        settings[key] = value
        rehash()
    }

    mutating func rehash() {
        let text = settings.keys.sorted().map { "\($0)=\(settings[$0]!)" }.joined(separator: "\n")
        configHash = (try? Digest.sha256Hex(Data(text.utf8))) ?? ""
    }

    /// Mappings become dotted keys; a list of scalars becomes one comma-separated value (easy to
    /// diff); other lists are indexed.
    static func flatten(_ node: YAMLNode, prefix: String = "") -> [String: String] {
        switch node {
        case .mapping(let m):
            var out: [String: String] = [:]
            for (k, v) in m.pairs {
                let key = prefix.isEmpty ? (k.string ?? "?") : "\(prefix).\(k.string ?? "?")"
                out.merge(flatten(v, prefix: key)) { $1 }
            }
            return out
        case .sequence(let seq):
            if seq.items.allSatisfy({ $0.string != nil }) {
                return [prefix: seq.items.compactMap(\.string).joined(separator: ", ")]
            }
            var out: [String: String] = [:]
            for (i, v) in seq.items.enumerated() { out.merge(flatten(v, prefix: "\(prefix)[\(i)]")) { $1 } }
            return out
        default:
            return [prefix: node.string ?? ""]
        }
    }

    /// The stage file over the base: mappings merge key by key, anything else is replaced. A
    /// secret's source is replaced whole (a stage that reads it from another kind of source must
    /// not end up with two).
    static func merge(_ base: YAMLNode, _ overlay: YAMLNode, path: [String] = []) -> YAMLNode {
        if path.count == 2 && path[0] == "secrets" { return overlay }
        guard case .mapping(let b) = base, case .mapping(let o) = overlay else { return overlay }
        func same(_ x: YAMLNode, _ y: YAMLNode) -> Bool { x.string != nil && x.string == y.string }
        var pairs: [(key: YAMLNode, value: YAMLNode)] = []
        for (k, v) in b.pairs {
            if let ov = o.pairs.first(where: { same($0.key, k) })?.value {
                pairs.append((k, merge(v, ov, path: path + [k.string ?? ""])))
            } else {
                pairs.append((k, v))
            }
        }
        for (k, v) in o.pairs where !b.pairs.contains(where: { same($0.key, k) }) { pairs.append((k, v)) }
        return .mapping(.init(pairs: pairs, line: b.line, anchor: b.anchor))
    }

    static func parse(_ reader: YAMLReader, file: String) throws -> DeployConfig {
        let top = try reader.mapping(allowed: topKeys)
        func required(_ key: String) throws -> YAMLReader {
            guard let r = top[key] else { throw reader.fail("missing required key '\(key)'") }
            return r
        }
        // Paths in the config are relative to its directory, made absolute so messages and the
        // ledger say exactly which file.
        let baseDir = URL(fileURLWithPath: file).deletingLastPathComponent().standardizedFileURL.path

        let appReader = try required("app")
        let app = try appReader.string()
        try appReader.check { try Names.identifier(app, field: $0) }

        let (hosts, roles) = try parseHosts(try required("hosts"))

        let conn = try ConnectionSettings.parse(top["ssh"], parallel: top["parallel"], baseDir: baseDir)

        var strategy = Strategy.symlink
        if let v = top["strategy"] {
            guard let s = Strategy(rawValue: try v.string()) else { throw v.fail("expected 'symlink' or 'image'") }
            strategy = s
        }

        let deployReader = try required("deploy_to")
        let deployTo = try deployReader.string()
        try deployReader.check { try Names.absolutePath(deployTo, field: $0) }

        let keep = try top["keep_releases"]?.int(2...1000) ?? 5
        var shared: [String] = []
        if let v = top["shared"] {
            for item in try v.sequence() {
                let p = try item.string()
                try item.check { try Names.relativePath(p, field: $0) }
                shared.append(p)
            }
        }
        let start = try top["start"]?.string()

        let health = try top["health"].map(Health.parse)
        let diskFactor = try top["disk_factor"]?.double(0...100) ?? 2
        let hooksDir = expand(try top["hooks"]?.string() ?? "hooks", relativeTo: baseDir)
        let (ledger, ledgerPath) = try LedgerLocation.parse(top["ledger"], baseDir: baseDir)
        var image: ImageSettings?
        if let ir = top["image"] {
            guard strategy == .image else { throw ir.fail("'image' is only for 'strategy: image'") }
            image = try ImageSettings.parse(ir, baseDir: baseDir)
        } else if strategy == .image {
            throw reader.fail("'strategy: image' needs an 'image' section (name, container_port, port)")
        }
        if strategy == .image, let s = top["start"] {
            throw s.fail("'start' is for the symlink strategy; the image's own command runs")
        }
        if strategy == .image, let s = top["stop"] {
            throw s.fail("'stop' is for the symlink strategy; the engine stops the container")
        }
        var config = DeployConfig(
            file: file, app: app, stage: nil, hosts: hosts, connection: conn, strategy: strategy,
            deployTo: deployTo, keepReleases: keep, shared: shared, start: start, health: health,
            diskFactor: diskFactor, hooksDir: hooksDir, ledgerPath: ledgerPath, image: image, configHash: "")
        config.roles = roles
        if let rr = top["roles"] {
            for (key, value) in try rr.mapping(allowed: nil).sorted(by: { $0.key < $1.key }) {
                try value.check { try Names.identifier(key, field: $0) }
                let role = try ProcessRole.parse(name: key, value, strategy: strategy, deployTo: deployTo)
                guard hosts.contains(where: { roles[$0]?.contains(key) == true }) else {
                    throw value.fail("no host has the role '\(key)' (give it in hosts: [{host: …, roles: [\(key)]}])")
                }
                config.processRoles.append(role)
            }
        }
        config.ledger = ledger
        config.stop = try top["stop"]?.string()
        if let t = top["triage"] { config.triage = try TriageSettings.parse(t) }
        if let t = top["traffic"] {
            config.traffic = try TrafficSettings.parse(t, health: health, baseDir: baseDir, app: app)
            config.health?.frontDoor = config.traffic?.frontDoor
            if config.traffic != nil, strategy == .symlink, start == nil {
                throw t.fail("the traffic switch starts each release on a slot: 'start' is needed")
            }
        }
        if let v = top["supervisor"] { config.supervisor = try SupervisorSettings.parse(v) }
        if let v = top["tolerate"] { config.tolerate = try TolerateSettings.parse(v) }
        config.releaseEnv = try ReleaseEnvSettings.parse(env: top["env"], secrets: top["secrets"], baseDir: baseDir)
        if let given = image?.env.keys,
            let name = (config.releaseEnv.env.map(\.name) + config.releaseEnv.secrets.map(\.name)).first(where: {
                given.contains($0)
            })
        {
            // The container would get one of the two, silently.
            throw (top["secrets"] ?? top["env"] ?? reader).fail("\(name) is also in image.env: give it in one place")
        }
        if let r = top["rollout"] {
            let rollout = try RolloutSettings.parse(r, health: health)
            do { try rollout.checkRequestSteps(traffic: config.traffic, field: "rollout.steps") } catch {
                throw ShipitError.input("\(r.location): \(error.message)")
            }
            config.rollout = rollout
        }
        if let n = top["notify"] { config.notify = try NotifySettings.parse(n) }
        config.logs =
            try top["logs"].map { try LogSettings.parse($0, strategy: strategy, deployTo: deployTo) }
            ?? LogSettings.defaults(strategy: strategy, deployTo: deployTo)
        if let mr = top["migrations"] {
            let m = try MigrationSettings.parse(mr)
            if let h = m.host, !hosts.contains(h) { throw mr.fail("host \(h) is not one of the hosts") }
            let env = config.releaseEnv
            if m.envFile == nil, !env.env.contains(where: { $0.name == "DATABASE_URL" }),
                !env.secrets.contains(where: { $0.name == "DATABASE_URL" })
            {
                throw mr.fail(
                    "needs 'env_file' (on the host, defines DATABASE_URL), or DATABASE_URL in 'secrets' or 'env'")
            }
            config.migrations = m
        }
        return config
    }

    static func expand(_ path: String, relativeTo dir: String) -> String {
        if path.hasPrefix("~/") { return ConnectionSettings.home + String(path.dropFirst()) }
        if path.hasPrefix("/") { return path }
        return FilePath.join(dir, path)
    }
}
