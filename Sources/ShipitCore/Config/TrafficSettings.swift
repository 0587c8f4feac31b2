import FoundationEssentials

/// `traffic:` in shipit.yml (docs/traffic.md): a reverse proxy on every host in front of two
/// slots, so a release starts and is smoke-tested on the idle slot before it gets any request, and
/// the previous release stays running on the other slot for an instant rollback.
public struct TrafficSettings: Sendable, Equatable {
    public enum Mode: String, Sendable { case managed, system }

    /// `managed`: shipit runs its own nginx as the deploy user (everything under `.shipit/proxy`).
    /// `system`: an nginx someone else runs; shipit writes `upstreamFile` and runs `reload`.
    public var mode: Mode = .managed
    /// The two slot ports (default: health.port + 1 and + 2), on the same address as the public port.
    public var slots: [Int]
    /// Seconds a slot that served traffic gets for its in-flight requests before it is stopped.
    public var drain: Double = 10
    /// How long the previous release stays warm after a deploy succeeded (nil: until the next
    /// deploy needs its slot).
    public var standbySeconds: Double?
    /// Managed mode: the nginx binary.
    public var nginx: String = "nginx"
    /// System mode: the upstream include file shipit writes, the command that checks the proxy's
    /// config, and the one that reloads it gracefully.
    public var upstreamFile: String?
    public var test: String?
    public var reload: String?
    /// `hosts:` and the rest of the host-wide proxy (nil: the app's own proxy on its own port).
    public var frontDoor: FrontDoorSettings?

    /// The other slot.
    public func idle(after active: Int?) -> Int {
        guard let active, let i = slots.firstIndex(of: active) else { return slots[0] }
        return slots[1 - i]
    }
}

extension TrafficSettings {
    static let keys: Set<String> = [
        "proxy", "mode", "slots", "drain", "standby", "nginx", "upstream_file", "test", "reload",
        "hosts", "http_port", "https_port", "tls", "hsts", "acme",
    ]

    /// nil for `traffic: none` (or `proxy: none`): the app restarts in place.
    static func parse(_ r: YAMLReader, health: DeployConfig.Health?, baseDir: String, app: String) throws
        -> TrafficSettings?
    {
        if case .scalar = r.node {
            let v = try r.string()
            guard v == "none" else { throw r.fail("expected 'none' or a mapping with 'proxy: nginx'") }
            return nil
        }
        let m = try r.mapping(allowed: keys)
        let proxy = try m["proxy"]?.string() ?? "nginx"
        guard ["nginx", "none"].contains(proxy) else { throw m["proxy"]!.fail("expected 'nginx' or 'none'") }
        if proxy == "none" { return nil }
        guard let health else {
            throw r.fail("the traffic switch needs 'health' (its port is the public port the proxy listens on)")
        }
        var t = TrafficSettings(slots: [health.port + 1, health.port + 2])
        if let v = m["mode"] {
            guard let mode = Mode(rawValue: try v.string()) else { throw v.fail("expected 'managed' or 'system'") }
            t.mode = mode
        }
        if let v = m["slots"] {
            let list = try v.sequence().map { try $0.int(1...65535) }
            guard list.count == 2, list[0] != list[1], !list.contains(health.port) else {
                throw v.fail("expected two different ports, neither the public port \(health.port)")
            }
            t.slots = list
        } else if health.port + 2 > 65535 {
            throw r.fail("health.port \(health.port) leaves no room for the default slots; set 'slots'")
        }
        if let v = m["drain"] { t.drain = try v.double(0...3600) }
        if let v = m["standby"] {
            if case .scalar = v.node, (try? v.string()) == "keep" {
                t.standbySeconds = nil
            } else {
                do { t.standbySeconds = try v.double(1...604800) } catch {
                    throw v.fail("expected 'keep' or seconds (1 to 604800)")
                }
            }
        }
        if let v = m["nginx"] {
            let p = try v.string()
            guard p.allSatisfy({ $0.isASCII && !$0.isWhitespace && !"`$;|&<>(){}\\\"'*?~".contains($0) }) else {
                throw v.fail("expected a command name or path")
            }
            t.nginx = p
        }
        if let v = m["upstream_file"] {
            let p = try v.string()
            try v.check { try Names.absolutePath(p, field: $0) }
            t.upstreamFile = p
        }
        t.test = try m["test"]?.string()
        t.reload = try m["reload"]?.string()
        if t.mode == .system {
            guard t.upstreamFile != nil, t.reload != nil, t.test != nil else {
                throw r.fail(
                    "mode system needs 'upstream_file', 'test' (e.g. sudo nginx -t) and 'reload' (e.g. sudo systemctl reload nginx)"
                )
            }
        } else if let extra = ["upstream_file", "test", "reload"].first(where: { m[$0] != nil }) {
            throw m[extra]!.fail("'\(extra)' is for mode system; in mode managed shipit runs its own nginx")
        }
        t.frontDoor = try FrontDoorSettings.parse(m, health: health, mode: t.mode, baseDir: baseDir, app: app)
        return t
    }
}
