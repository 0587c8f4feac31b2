import FoundationEssentials
import ShipitSupport

/// `rollout:` in shipit.yml (docs/rollout.md): the hosts switch in cumulative steps, each baked
/// while gates are sampled; a failed step rolls back exactly the hosts switched so far.
public struct RolloutSettings: Sendable, Equatable {
    /// A cumulative target: a host count or a percentage of the fleet.
    public enum Target: Sendable, Equatable, CustomStringConvertible {
        case count(Int)
        case percent(Double)

        public var description: String {
            switch self {
            case .count(let n): return String(n)
            case .percent(let p): return p == p.rounded() ? "\(Int(p))%" : "\(p)%"
            }
        }

        /// Hosts this target covers in a fleet of `total` (a percentage rounds up: 10 % of 3 is 1).
        func hosts(of total: Int) -> Int {
            switch self {
            case .count(let n): return min(n, total)
            case .percent(let p): return min(total, max(1, Int((Double(total) * p / 100).rounded(.up))))
            }
        }

        /// `1`, `"50%"`, `2.5%` as written in the config or on the command line.
        static func parse(_ text: String) -> Target? {
            let t = text.trimmed()
            if t.hasSuffix("%") {
                guard let p = Double(t.dropLast()), p > 0, p <= 100 else { return nil }
                return .percent(p)
            }
            guard let n = Int(t), n >= 1 else { return nil }
            return .count(n)
        }
    }

    public var steps: [Target]
    /// Seconds each step is watched after its smoke test, gates sampled throughout.
    public var bake: Double = 0
    /// Seconds between two samples of the gates during a bake.
    public var interval: Double = 1
    public var gates: [RolloutGate] = []
    /// Stop after this step (1-based) with the lock held, until `shipit rollout promote|abort`.
    public var pauseAfter: Int?

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

    /// The hosts of each step, in the config's host order; every host is in exactly one step.
    /// Targets that add nobody (two targets rounding to the same count) are merged away.
    public func plan(hosts: [String]) -> [[String]] {
        var out: [[String]] = []
        var done = 0
        for target in steps + [.percent(100)] {
            let upTo = target.hosts(of: hosts.count)
            guard upTo > done else { continue }
            out.append(Array(hosts[done..<upTo]))
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
                throw ShipitError.input("\(field): '\(p)' is not a host count (1, 2…) or a percentage (50%)")
            }
            targets.append(t)
        }
        guard !targets.isEmpty else { throw ShipitError.input("\(field): at least one step is needed") }
        try checkIncreasing(targets, field: field)
        return targets
    }

    /// Counts and percentages can't be compared without the fleet; each kind must grow.
    static func checkIncreasing(_ targets: [Target], field: String) throws {
        var lastCount = 0
        var lastPercent = 0.0
        for t in targets {
            switch t {
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

    static let keys: Set<String> = ["steps", "bake", "interval", "gates", "pause_after"]

    static func parse(_ r: YAMLReader, health: DeployConfig.Health?) throws -> RolloutSettings {
        let m = try r.mapping(allowed: keys)
        guard let sr = m["steps"] else { throw r.fail("missing required key 'steps' (e.g. [1, \"50%\", \"100%\"])") }
        var targets: [Target] = []
        for item in try sr.sequence() {
            let text = try item.string()
            guard let t = Target.parse(text) else {
                throw item.fail("expected a host count (1, 2…) or a percentage (\"50%\")")
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
        if let g = m["gates"] {
            for item in try g.sequence() { s.gates.append(try RolloutGate.parse(item, health: health)) }
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
}
