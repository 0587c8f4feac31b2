import FoundationEssentials
import SSH

/// The validated contents of shipit.yml (plus a stage overlay). Every key is documented in
/// docs/configuration.md.
public struct DeployConfig: Sendable {
    public enum Strategy: String, Sendable { case symlink, image }

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

    public var file: String
    public var app: String
    public var stage: String?
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
        "notify", "logs", "roles",
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
        var config = try parse(reader, file: file)
        config.stage = stage
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

    /// The stage file over the base: mappings merge key by key, anything else is replaced.
    static func merge(_ base: YAMLNode, _ overlay: YAMLNode) -> YAMLNode {
        guard case .mapping(let b) = base, case .mapping(let o) = overlay else { return overlay }
        func same(_ x: YAMLNode, _ y: YAMLNode) -> Bool { x.string != nil && x.string == y.string }
        var pairs: [(key: YAMLNode, value: YAMLNode)] = []
        for (k, v) in b.pairs {
            if let ov = o.pairs.first(where: { same($0.key, k) })?.value {
                pairs.append((k, merge(v, ov)))
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

        let hostsReader = try required("hosts")
        var hosts: [String] = []
        var roles: [String: [String]] = [:]
        for h in try hostsReader.sequence() {
            var name: String
            var hostRoles: [String]?
            if case .mapping = h.node {
                let m = try h.mapping(allowed: ["host", "roles"])
                guard let hr = m["host"] else { throw h.fail("missing 'host'") }
                name = try hr.string()
                if let r = m["roles"] {
                    let list = try r.stringList()
                    for role in list { try r.check { try Names.identifier(role, field: $0) } }
                    hostRoles = list
                }
            } else {
                name = try h.string()
            }
            // `[::1]` and `::1` are one host: the bare form is the one every other place uses.
            let given = name
            try h.check { name = try HostName.normalized(given, field: $0) }
            if let hostRoles { roles[name] = hostRoles }
            guard !hosts.contains(name) else { throw h.fail("host \(name) is listed twice") }
            hosts.append(name)
        }
        guard !hosts.isEmpty else { throw hostsReader.fail("at least one host is needed") }

        var conn = ConnectionSettings(parallel: 10)
        if let ssh = top["ssh"] {
            let m = try ssh.mapping(allowed: [
                "user", "port", "identity", "known_hosts", "connect_timeout", "command_timeout", "accept_new_host_keys",
                "use_agent", "upload",
                "config", "proxy_jump", "max_concurrent_starts",
            ])
            if let v = m["user"] { conn.user = try v.string() }
            if let v = m["port"] { conn.port = try v.int(1...65535) }
            if let v = m["identity"] { conn.identities = try v.stringList().map { expand($0, relativeTo: baseDir) } }
            if let v = m["known_hosts"] { conn.knownHostsPath = expand(try v.string(), relativeTo: baseDir) }
            if let v = m["connect_timeout"] { conn.connectTimeout = try v.double(0.1...600) }
            if let v = m["command_timeout"] { conn.commandTimeout = try v.double(1...86400) }
            if let v = m["accept_new_host_keys"] { conn.hostKeyPolicy = try v.bool() ? .acceptNew : .strict }
            if let v = m["use_agent"] { conn.useAgent = try v.bool() }
            if let v = m["config"] {
                let path = try v.string()
                conn.sshConfigPath = path == "none" ? "none" : expand(path, relativeTo: baseDir)
            }
            if let v = m["proxy_jump"] {
                let hops: [String]
                if case .sequence = v.node {
                    hops = try v.stringList()
                } else {
                    hops = try v.string().split(separator: ",").map { $0.trimmed() }
                }
                conn.proxyJump = hops == ["none"] ? [] : hops
                for hop in conn.proxyJump ?? [] {
                    do {
                        _ = try conn.jumpHop(hop, defaultUser: "x", fallback: conn.sshOptions, field: v.path)
                    } catch let e as ShipitError {
                        throw v.fail(e.message.replacing(v.path + ": ", with: ""))
                    }
                }
            }
            if let v = m["max_concurrent_starts"] { conn.maxConcurrentStarts = try v.int(1...1000) }
            if let v = m["upload"] {
                guard let mode = ConnectionSettings.UploadMode(rawValue: try v.string()) else {
                    throw v.fail("expected 'auto', 'stream', 'sftp' or 'scp'")
                }
                conn.upload = mode
            }
        }
        if let v = top["parallel"] { conn.parallel = try v.int(1...1000) }
        try conn.loadSSHConfig()

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

        var health: Health?
        if let hr = top["health"] {
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
            health = h
        }
        let diskFactor = try top["disk_factor"]?.double(0...100) ?? 2
        let hooksDir = expand(try top["hooks"]?.string() ?? "hooks", relativeTo: baseDir)
        var ledgerPath = FilePath.join(baseDir, ".shipit/ledger.sqlite")
        var ledger = LedgerLocation.sqlite(path: ledgerPath)
        if let lr = top["ledger"] {
            let m = try lr.mapping(allowed: ["path", "url", "password_env", "password_file"])
            if let p = m["path"] {
                guard m["url"] == nil else { throw p.fail("give 'path' (SQLite) or 'url' (PostgreSQL), not both") }
                ledgerPath = expand(try p.string(), relativeTo: baseDir)
                ledger = .sqlite(path: ledgerPath)
            }
            if let u = m["url"] {
                let urlText = try u.string()
                var t: LedgerLocation.PostgresTarget
                do { t = try LedgerLocation.PostgresTarget.parse(urlText, field: u.path) } catch let e as ShipitError {
                    throw u.fail(e.message.replacing(u.path + ": ", with: ""))
                }
                if let e = m["password_env"] {
                    let name = try e.string()
                    guard RemoteCommand.isValidEnvName(name) else {
                        throw e.fail("expected an environment variable name")
                    }
                    t.passwordEnv = name
                }
                if let f = m["password_file"] { t.passwordFile = expand(try f.string(), relativeTo: baseDir) }
                ledger = .postgres(t)
                ledgerPath = t.display
            } else if m["password_env"] != nil || m["password_file"] != nil {
                throw lr.fail("password_env/password_file are for a PostgreSQL 'url'")
            }
        }
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
            config.traffic = try TrafficSettings.parse(t, health: health)
            if config.traffic != nil, strategy == .symlink, start == nil {
                throw t.fail("the traffic switch starts each release on a slot: 'start' is needed")
            }
        }
        if let r = top["rollout"] { config.rollout = try RolloutSettings.parse(r, health: health) }
        if let n = top["notify"] { config.notify = try NotifySettings.parse(n) }
        config.logs =
            try top["logs"].map { try LogSettings.parse($0, strategy: strategy, deployTo: deployTo) }
            ?? LogSettings.defaults(strategy: strategy, deployTo: deployTo)
        if let mr = top["migrations"] {
            let m = try MigrationSettings.parse(mr)
            if let h = m.host, !hosts.contains(h) { throw mr.fail("host \(h) is not one of the hosts") }
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
