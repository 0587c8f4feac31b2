import FoundationEssentials

/// One gate of a rollout (`rollout.gates[]`), sampled through each step's bake. A gate fails the
/// step when more than `failureLimit` of its samples fail.
public struct RolloutGate: Sendable, Equatable {
    public enum Kind: Sendable, Equatable {
        /// `/health/live` and `/health/ready` of every switched host.
        case health
        /// GET `url` (`{host}` in it: once per switched host) must answer 2xx; with `json`, the number
        /// at that dotted path must stay at or under `max`.
        case http(url: String, json: String?, max: Double?)
        /// Runs on the deployer with `SHIPIT_*` in its environment; exit 0 passes.
        case command(String)
        /// An instant PromQL query (`{hosts}` in it: a regex of the switched hosts); the value must
        /// stay at or under `max`. No data fails unless `onEmpty` is `pass`.
        case prometheus(url: String, query: String, max: Double, emptyPasses: Bool)
        /// A request step's new release (the canary) against the release serving the rest, both
        /// measured by the proxy on every host whose requests are split.
        case proxy(ProxyVerdict.Limits, tooFew: TooFew)
    }

    /// What a proxy gate does when the bake's time is up and the canary answered fewer than
    /// `min_requests`: bake on until it has (up to `extend_max` seconds more, then fail), fail
    /// the step, or pass it.
    public enum TooFew: String, Sendable, Equatable { case extend, fail, pass }

    public var name: String
    public var kind: Kind
    public var failureLimit: Int = 0
    /// Seconds one sample may take.
    public var timeout: Double = 5
    /// A proxy gate with `too_few: extend`: the most seconds the bake goes on past its time.
    public var extendMax: Double = 300

    public init(name: String, kind: Kind) {
        self.name = name
        self.kind = kind
    }

    public var type: String {
        switch kind {
        case .health: return "health"
        case .http: return "http"
        case .command: return "command"
        case .prometheus: return "prometheus"
        case .proxy: return "proxy"
        }
    }

    static let keys: Set<String> = [
        "type", "name", "failure_limit", "timeout", "url", "json", "max", "run", "query", "on_empty",
        "max_error_ratio", "max_error_ratio_increase", "max_p95_ratio", "min_requests", "too_few", "extend_max",
    ]

    static let proxyKeys: Set<String> = [
        "max_error_ratio", "max_error_ratio_increase", "max_p95_ratio", "min_requests", "too_few", "extend_max",
    ]

    static func parse(_ r: YAMLReader, health: DeployConfig.Health?) throws -> RolloutGate {
        let m = try r.mapping(allowed: keys)
        guard let tr = m["type"] else { throw r.fail("missing 'type' (health, http, command, prometheus or proxy)") }
        let type = try tr.string()
        if type != "proxy", let k = m.keys.sorted().first(where: { Self.proxyKeys.contains($0) }) {
            throw m[k]!.fail("only a proxy gate takes '\(k)'")
        }
        func url(_ key: String) throws -> String {
            guard let v = m[key] else { throw r.fail("a \(type) gate needs '\(key)'") }
            let u = try v.string()
            guard let parsed = URL(string: u.replacing("{host}", with: "h")),
                ["http", "https"].contains(parsed.scheme ?? ""), parsed.host != nil
            else {
                throw v.fail("expected an http:// or https:// URL")
            }
            return u
        }
        let kind: Kind
        switch type {
        case "health":
            guard health != nil else { throw tr.fail("a health gate needs the 'health' section") }
            kind = .health
        case "http":
            kind = .http(url: try url("url"), json: try m["json"]?.string(), max: try m["max"]?.double(-1e15...1e15))
            if m["json"] != nil, m["max"] == nil {
                throw r.fail("'json' needs 'max' (the value must stay at or under it)")
            }
        case "command":
            guard let v = m["run"] else { throw r.fail("a command gate needs 'run'") }
            kind = .command(try v.string())
        case "prometheus":
            guard let q = m["query"], let mx = m["max"] else {
                throw r.fail("a prometheus gate needs 'query' and 'max'")
            }
            var emptyPasses = false
            if let e = m["on_empty"] {
                let v = try e.string()
                guard ["pass", "fail"].contains(v) else { throw e.fail("expected 'pass' or 'fail'") }
                emptyPasses = v == "pass"
            }
            kind = .prometheus(
                url: try url("url"), query: try q.string(), max: try mx.double(-1e15...1e15), emptyPasses: emptyPasses)
        case "proxy":
            var limits = ProxyVerdict.Limits()
            limits.maxErrorRatio = try m["max_error_ratio"]?.double(0...1)
            limits.maxErrorRatioIncrease = try m["max_error_ratio_increase"]?.double(0...1)
            limits.maxP95Ratio = try m["max_p95_ratio"]?.double(1...1000)
            if let v = m["min_requests"] { limits.minRequests = try v.int(1...10_000_000) }
            guard limits.maxErrorRatio != nil || limits.maxErrorRatioIncrease != nil || limits.maxP95Ratio != nil else {
                throw r.fail(
                    "a proxy gate needs at least one of max_error_ratio, max_error_ratio_increase, max_p95_ratio")
            }
            var tooFew = TooFew.extend
            if let v = m["too_few"] {
                guard let t = TooFew(rawValue: try v.string()) else { throw v.fail("expected extend, fail or pass") }
                tooFew = t
            }
            kind = .proxy(limits, tooFew: tooFew)
        default:
            throw tr.fail("expected health, http, command, prometheus or proxy")
        }
        var g = RolloutGate(name: try m["name"]?.string() ?? type, kind: kind)
        if let v = m["name"] { try v.check { try Names.identifier(g.name, field: $0) } }
        if let v = m["failure_limit"] { g.failureLimit = try v.int(0...10000) }
        if let v = m["timeout"] { g.timeout = try v.double(0.1...600) }
        if let v = m["extend_max"] { g.extendMax = try v.double(0...86400) }
        return g
    }
}
