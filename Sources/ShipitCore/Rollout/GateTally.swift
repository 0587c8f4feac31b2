/// What one bake's samples of every gate came to, for the line that replaces them in the default
/// output: `5 samples on 1 host, health 0/5 failed, http max error_ratio 0.02`. Pure.
public struct GateTally: Sendable, Equatable {
    struct Count: Sendable, Equatable {
        var samples = 0
        var failed = 0
        var hosts: Set<String> = []
        var max: Double?
    }

    let gates: [RolloutGate]
    private(set) var rounds = 0
    private(set) var counts: [String: Count] = [:]

    public init(gates: [RolloutGate]) { self.gates = gates }

    /// One round: the samples every gate gave at one interval.
    public mutating func add(round samples: [GateSample]) {
        rounds += 1
        for s in samples {
            var c = counts[s.gate] ?? Count()
            c.samples += 1
            if !s.ok { c.failed += 1 }
            if let h = s.host { c.hosts.insert(h) }
            if let v = s.value { c.max = Swift.max(c.max ?? v, v) }
            counts[s.gate] = c
        }
    }

    /// The bake's samples in one line, gate by gate in the config's order.
    public func summary(hosts: Int) -> String {
        let parts = gates.map { g -> String in
            let c = counts[g.name] ?? Count()
            var s = "\(g.name) \(c.failed)/\(c.samples) failed"
            if let m = c.max {
                let what: String
                switch g.kind {
                case .http(_, let json?, _): what = "max \(json)"
                default: what = "max"
                }
                s += ", \(what) \(GateRunner.format(m))"
            }
            return s
        }
        let head = "\(rounds) sample(s) on \(hosts) host(s)"
        return ([head] + parts).joined(separator: ", ")
    }
}
