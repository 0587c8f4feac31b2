import FoundationEssentials
import ShipitSupport

/// `image:` in shipit.yml, for `strategy: image` (docs/configuration.md).
public struct ImageSettings: Sendable, Equatable {
    /// `registry/name`, without tag or digest.
    public var name: String
    /// The engine command as argv: `podman`, `docker`, or a full prefix such as
    /// `podman --root /srv/podman/root`. Each word is shell-quoted when run.
    public var engine: [String] = ["podman"]
    public var containerPort: Int
    /// Published on the host's own address (`health.address`, else the host name).
    public var port: Int
    public var env: [String: String] = [:]
    /// A file on the deployer, uploaded mode 0600 and passed as `--env-file`; never printed or stored.
    public var envFile: String?
    public var volumes: [String] = []
    public var keepImages: Int = 3
    /// Seconds a stopping container gets between SIGTERM and SIGKILL.
    public var stopTimeout: Int = 10
    /// Pull over plain HTTP / without certificate checks (a local registry).
    public var tlsVerify: Bool = true
}

extension ImageSettings {
    static func parse(_ r: YAMLReader, baseDir: String) throws -> ImageSettings {
        let m = try r.mapping(allowed: [
            "name", "engine", "container_port", "port", "env", "env_file", "volumes", "keep_images", "tls_verify",
            "stop_timeout",
        ])
        guard let nameR = m["name"] else { throw r.fail("missing required key 'name'") }
        let name = try nameR.string()
        // registry[:port]/path: letters, digits, . _ - / : only (no tag, no digest, no shell).
        guard !name.isEmpty, name.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || "._-/:".contains($0)) }),
            !name.contains(".."), !name.hasSuffix(":"), name.first != "-"
        else {
            throw nameR.fail("expected an image name like registry.example.com/team/app (no tag, no digest)")
        }
        guard let cp = m["container_port"] else { throw r.fail("missing required key 'container_port'") }
        guard let p = m["port"] else { throw r.fail("missing required key 'port'") }
        var s = ImageSettings(name: name, containerPort: try cp.int(1...65535), port: try p.int(1...65535))
        if let e = m["engine"] {
            let words = try e.string().split(separator: " ").map(String.init)
            guard let first = words.first, ["podman", "docker"].contains(FilePath.lastComponent(of: first)) else {
                throw e.fail("expected 'podman', 'docker', or a command starting with one of them")
            }
            for w in words where w.contains(where: { "`$;|&<>(){}[]*?~\\\"'\n".contains($0) }) {
                throw e.fail("'\(w)' has shell metacharacters")
            }
            s.engine = words
        }
        if let e = m["env"] {
            for (k, v) in try e.mapping(allowed: nil) {
                try v.check { field in
                    guard k.wholeMatch(of: #/[A-Za-z_][A-Za-z0-9_]*/#) != nil else {
                        throw ShipitError.input("\(field): '\(k)' is not an environment variable name")
                    }
                }
                s.env[k] = try v.string()
            }
        }
        if let f = m["env_file"] { s.envFile = DeployConfig.expand(try f.string(), relativeTo: baseDir) }
        if let v = m["volumes"] {
            for item in try v.sequence() {
                let spec = try item.string()
                guard spec.allSatisfy({ $0.isASCII && !$0.isWhitespace && !"`$;|&<>(){}\\\"'".contains($0) }),
                    !spec.contains("..")
                else {
                    throw item.fail("expected HOST_PATH:CONTAINER_PATH[:ro] without shell metacharacters or '..'")
                }
                s.volumes.append(spec)
            }
        }
        if let k = m["keep_images"] { s.keepImages = try k.int(2...100) }
        if let t = m["tls_verify"] { s.tlsVerify = try t.bool() }
        if let t = m["stop_timeout"] { s.stopTimeout = try t.int(0...600) }
        return s
    }
}
