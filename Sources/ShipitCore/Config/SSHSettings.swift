import SSH

extension ConnectionSettings {
    /// `ssh:` and `parallel:` in shipit.yml, then the ssh_config they name (or `~/.ssh/config`).
    /// Paths are relative to `baseDir`, the config's directory.
    static func parse(_ ssh: YAMLReader?, parallel: YAMLReader?, baseDir: String) throws -> ConnectionSettings {
        var conn = ConnectionSettings(parallel: 10)
        if let ssh {
            let m = try ssh.mapping(allowed: [
                "user", "port", "identity", "known_hosts", "connect_timeout", "command_timeout", "accept_new_host_keys",
                "use_agent", "upload", "delta",
                "config", "proxy_jump", "max_concurrent_starts",
            ])
            if let v = m["user"] { conn.user = try v.string() }
            if let v = m["port"] { conn.port = try v.int(1...65535) }
            if let v = m["identity"] {
                conn.identities = try v.stringList().map { DeployConfig.expand($0, relativeTo: baseDir) }
            }
            if let v = m["known_hosts"] {
                conn.knownHostsPath = DeployConfig.expand(try v.string(), relativeTo: baseDir)
            }
            if let v = m["connect_timeout"] { conn.connectTimeout = try v.double(0.1...600) }
            if let v = m["command_timeout"] { conn.commandTimeout = try v.double(1...86400) }
            if let v = m["accept_new_host_keys"] { conn.hostKeyPolicy = try v.bool() ? .acceptNew : .strict }
            if let v = m["use_agent"] { conn.useAgent = try v.bool() }
            if let v = m["config"] {
                let path = try v.string()
                conn.sshConfigPath = path == "none" ? "none" : DeployConfig.expand(path, relativeTo: baseDir)
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
            if let v = m["delta"] { conn.delta = try v.bool() }
        }
        if let v = parallel { conn.parallel = try v.int(1...1000) }
        try conn.loadSSHConfig()
        return conn
    }
}
