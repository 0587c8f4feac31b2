import FoundationEssentials
import ShipitSupport

/// `rollout:` in shipit.yml (docs/rollout.md): the hosts switch in cumulative steps, each baked
/// while gates are sampled; a failed step rolls back exactly the hosts switched so far.
public struct RolloutSettings: Sendable, Equatable {
    /// A cumulative target: a host count or a percentage of the fleet, or a share of the
    /// requests of every host not switched yet (a request step: the proxy splits them).
    public enum Target: Sendable, Equatable, CustomStringConvertible {
        case count(Int)
        case percent(Double)
        /// Whole percent, 1…99.
        case requests(Int)

        public var description: String {
            switch self {
            case .count(let n): return String(n)
            case .percent(let p): return p == p.rounded() ? "\(Int(p))%" : "\(p)%"
            case .requests(let p): return "requests=\(p)%"
            }
        }

        public var requestShare: Int? {
            if case .requests(let p) = self { return p }
            return nil
        }

        /// Hosts this target covers in a fleet of `total` (a percentage rounds up: 10 % of 3 is 1).
        func hosts(of total: Int) -> Int {
            switch self {
            case .count(let n): return min(n, total)
            case .percent(let p): return min(total, max(1, Int((Double(total) * p / 100).rounded(.up))))
            case .requests: return 0
            }
        }

        /// `1`, `"50%"`, `2.5%` as written in the config or on the command line; `requests=10%`
        /// (or `requests:10%`) on the command line.
        static func parse(_ text: String) -> Target? {
            let t = text.trimmed()
            for prefix in ["requests=", "requests:"] where t.hasPrefix(prefix) {
                return requests(String(t.dropFirst(prefix.count)))
            }
            if t.hasSuffix("%") {
                guard let p = Double(t.dropLast()), p > 0, p <= 100 else { return nil }
                return .percent(p)
            }
            guard let n = Int(t), n >= 1 else { return nil }
            return .count(n)
        }

        /// `10%` as a request share: a whole percent from 1 to 99 (each percent is one of the
        /// proxy's 100 buckets; 100 % is a switch).
        static func requests(_ text: String) -> Target? {
            let t = text.trimmed()
            guard t.hasSuffix("%"), let p = Int(t.dropLast().trimmed()), (1...99).contains(p) else { return nil }
            return .requests(p)
        }
    }

    /// One step as the run takes it: the hosts it switches (with a share: the hosts whose
    /// requests it splits, switched by the step after the last request step).
    public struct PlannedStep: Sendable, Equatable, Codable {
        public var hosts: [String]
        /// The share of requests sent to the new release (nil: a host step).
        public var share: Int?
    }

    public var steps: [Target]
    /// Seconds each step is watched after its smoke test, gates sampled throughout.
    public var bake: Double = 0
    /// Seconds between two samples of the gates during a bake.
    public var interval: Double = 1
    public var gates: [RolloutGate] = []
    /// Stop after this step (1-based) with the lock held, until `shipit rollout promote|abort`.
    public var pauseAfter: Int?
    /// How a client keeps its release during request steps.
    public var sticky: RequestSplit.Sticky = .cookie

    /// The rollout splits requests in some step: the proxy needs its buckets.
    public var hasRequestSteps: Bool { steps.contains { $0.requestShare != nil } }

    public init(steps: [Target]) { self.steps = steps }

    /// A rollout given only on the command line: every host in one step, watched by the health
    /// gate when there is a health check.
    public static func defaults(health: DeployConfig.Health?) -> RolloutSettings {
        var s = RolloutSettings(steps: [.percent(100)])
        if health != nil { s.gates = [RolloutGate(name: "health", kind: .health)] }
        return s
    }

    /// Each step is watched after its smoke test (a bake time or gates to sample).
    public var bakes: Bool { bake > 0 || !gates.isEmpty }

    /// The hosts of each step, in the config's host order; every host is switched in exactly one
    /// step. Targets that add nobody (two targets rounding to the same count) are merged away.
    public func plan(hosts: [String]) -> [[String]] { planSteps(hosts: hosts).map(\.hosts) }

    /// The steps with their shares. Request steps split the requests of every host the host
    /// steps before them left (they come last, before the final switch of those hosts).
    public func planSteps(hosts: [String]) -> [PlannedStep] {
        var out: [PlannedStep] = []
        var done = 0
        for target in steps + [.percent(100)] {
            if let share = target.requestShare {
                guard done < hosts.count else { continue }
                out.append(PlannedStep(hosts: Array(hosts[done...]), share: share))
                continue
            }
            let upTo = target.hosts(of: hosts.count)
            guard upTo > done else { continue }
            out.append(PlannedStep(hosts: Array(hosts[done..<upTo]), share: nil))
            done = upTo
        }
        return out
    }

    /// `--steps 1,50%,100%`.
    public static func parseSteps(_ text: String, field: String) throws -> [Target] {
        let parts = text.split(separator: ",").map(String.init)
        var targets: [Target] = []
        for p in parts {
            guard let t = Target.parse(p) else {
                throw ShipitError.input(
                    "\(field): '\(p)' is not a host count (1, 2…), a percentage (50%) or a request share (requests=10%, a whole percent from 1 to 99)"
                )
            }
            targets.append(t)
        }
        guard !targets.isEmpty else { throw ShipitError.input("\(field): at least one step is needed") }
        try checkIncreasing(targets, field: field)
        return targets
    }

    /// Counts and percentages can't be compared without the fleet; each kind must grow. Request
    /// shares grow too, and only the switch of every host (100%) may follow them.
    static func checkIncreasing(_ targets: [Target], field: String) throws {
        var lastCount = 0
        var lastPercent = 0.0
        var lastShare = 0
        for t in targets {
            if lastShare > 0, t.requestShare == nil, t != .percent(100) {
                throw ShipitError.input(
                    "\(field): after a request step only request steps or 100% (every host) may follow, not \(t)")
            }
            switch t {
            case .requests(let p):
                guard p > lastShare else {
                    throw ShipitError.input("\(field): request shares must grow (\(p)% after \(lastShare)%)")
                }
                lastShare = p
            case .count(let n):
                guard n > lastCount else {
                    throw ShipitError.input("\(field): steps are cumulative and must grow (\(n) after \(lastCount))")
                }
                lastCount = n
            case .percent(let p):
                guard p > lastPercent else {
                    throw ShipitError.input("\(field): steps are cumulative and must grow (\(t) after \(lastPercent)%)")
                }
                lastPercent = p
            }
        }
    }

    static let keys: Set<String> = ["steps", "bake", "interval", "gates", "pause_after", "sticky"]

    /// Request steps need the proxy's split: the traffic switch, with shipit's own nginx.
    public func checkRequestSteps(traffic: TrafficSettings?, field: String) throws(ShipitError) {
        guard hasRequestSteps else { return }
        guard let traffic else {
            throw ShipitError.input(
                "\(field): request steps split each host's requests between two releases: they need the traffic switch ('traffic')"
            )
        }
        guard traffic.mode == .managed else {
            throw ShipitError.input(
                "\(field): request steps need shipit's own nginx (traffic.mode: managed or the front door), not a system nginx"
            )
        }
    }

    static func parse(_ r: YAMLReader, health: DeployConfig.Health?) throws -> RolloutSettings {
        let m = try r.mapping(allowed: keys)
        guard let sr = m["steps"] else { throw r.fail("missing required key 'steps' (e.g. [1, \"50%\", \"100%\"])") }
        var targets: [Target] = []
        for item in try sr.sequence() {
            if item.isMapping {
                let step = try item.mapping(allowed: ["requests"])
                guard let share = step["requests"] else { throw item.fail("a request step is {requests: 10%}") }
                guard let t = Target.requests(try share.string()) else {
                    throw share.fail("expected a share of requests: a whole percent from 1% to 99%")
                }
                targets.append(t)
                continue
            }
            let text = try item.string()
            guard let t = Target.parse(text), t.requestShare == nil else {
                throw item.fail(
                    "expected a host count (1, 2…), a percentage (\"50%\") or a request step ({requests: 10%})")
            }
            targets.append(t)
        }
        guard !targets.isEmpty else { throw sr.fail("at least one step is needed") }
        do { try checkIncreasing(targets, field: sr.path) } catch let e as ShipitError {
            throw sr.fail(e.message.replacing("\(sr.path): ", with: ""))
        }
        var s = RolloutSettings(steps: targets)
        if let v = m["bake"] { s.bake = try v.double(0...86400) }
        if let v = m["interval"] { s.interval = try v.double(0.1...3600) }
        if let v = m["pause_after"] { s.pauseAfter = try v.int(1...1000) }
        if let v = m["sticky"] { s.sticky = try parseSticky(v) }
        if let g = m["gates"] {
            for item in try g.sequence() { s.gates.append(try RolloutGate.parse(item, health: health)) }
            if !s.hasRequestSteps, let p = s.gates.first(where: { $0.type == "proxy" }) {
                throw g.fail(
                    "gate '\(p.name)' (type proxy) judges request steps: rollout.steps has none ({requests: 10%})")
            }
            var names = Set<String>()
            for gate in s.gates where !names.insert(gate.name).inserted {
                throw g.fail("two gates are named '\(gate.name)': give one a 'name'")
            }
        } else if health != nil {
            // Without gates, a bake still watches what the smoke test checked.
            s.gates = [RolloutGate(name: "health", kind: .health)]
        }
        return s
    }

    /// `cookie` (the default), `address`, `none` or `{header: NAME}`.
    static func parseSticky(_ r: YAMLReader) throws -> RequestSplit.Sticky {
        if r.isMapping {
            let m = try r.mapping(allowed: ["header"])
            guard let h = m["header"] else { throw r.fail("expected {header: NAME}") }
            let name = try h.string()
            guard !name.isEmpty, name.count <= 64,
                name.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-") })
            else {
                throw h.fail("expected a header name (letters, digits and '-')")
            }
            return .header(name)
        }
        switch try r.string() {
        case "cookie": return .cookie
        case "address": return .address
        case "none": return .none
        default: throw r.fail("expected cookie, address, none or {header: NAME}")
        }
    }
}
