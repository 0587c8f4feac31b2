import FoundationEssentials
import ShipitSupport

/// What the report of one run draws, worked out from the ledger alone (the attempt, its steps and
/// its recorded settings): a lane per host with a bar per step, the rollout steps' starts, each
/// gate's samples over time against its threshold, and the failure that stopped the run. Times
/// are seconds from the run's start.
public struct RunPicture: Sendable, Equatable {
    public struct Bar: Sendable, Equatable {
        public var step: String
        /// `ok`, `failed`, `running`, `interrupted`: the bar's colour.
        public var outcome: String
        public var start: Double
        public var end: Double
        public var message: String?
    }

    public struct Lane: Sendable, Equatable {
        public var host: String
        public var rolloutStep: Int?
        public var bars: [Bar]
    }

    /// A rollout step starting (`step 2/3`).
    public struct Mark: Sendable, Equatable {
        public var at: Double
        public var label: String
    }

    public struct Sample: Sendable, Equatable {
        public var at: Double
        public var value: Double?
        public var ok: Bool
        public var detail: String
    }

    /// One gate's samples about one host ("" for a fleet-wide gate).
    public struct Series: Sendable, Equatable {
        public var host: String
        public var samples: [Sample]
    }

    public struct Gate: Sendable, Equatable {
        public var name: String
        /// The gate's `max` in the run's settings (nil: a pass/fail gate).
        public var max: Double?
        /// In the order the hosts were first sampled.
        public var series: [Series]
    }

    public struct Failure: Sendable, Equatable {
        public var at: Double
        public var host: String?
        /// The step (`warm`, `gate http`…) that failed.
        public var step: String
        public var message: String
    }

    public var attempt: LedgerAttempt
    public var duration: Double
    public var lanes: [Lane]
    public var marks: [Mark]
    public var gates: [Gate]
    public var failure: Failure?

    /// The longest run the axis draws (30 days: a rollout paused for weeks is cut there).
    static let longestRun: Double = 30 * 86400

    public init(attempt: LedgerAttempt, steps: [LedgerStep], settings: [String: String]) {
        self.attempt = attempt
        let t0 = attempt.startedAt
        // A time the ledger holds out of any sense (a clock jump, a value another writer left)
        // must not stretch the axis without bound.
        func at(_ d: Date) -> Double {
            let v = d.timeIntervalSince(t0)
            return v.isFinite ? min(max(0, v), Self.longestRun) : 0
        }
        let ends = steps.map { $0.finishedAt ?? $0.startedAt } + [attempt.finishedAt ?? attempt.startedAt]
        let end = ends.map(at).max() ?? 0
        duration = max(end, 0.001)

        // Lanes: every host of the attempt, and any a step names that it does not list.
        var order = attempt.hosts.map(\.host)
        for s in steps { if let h = s.host, !order.contains(h) { order.append(h) } }
        let configured = Self.hostOrder(settings)
        let stepOf = Dictionary(attempt.hosts.map { ($0.host, $0.rolloutStep) }, uniquingKeysWith: { a, _ in a })
        order = order.enumerated().sorted { x, y in
            let kx = ((stepOf[x.element] ?? nil) ?? Int.max, configured[x.element] ?? Int.max, x.offset)
            let ky = ((stepOf[y.element] ?? nil) ?? Int.max, configured[y.element] ?? Int.max, y.offset)
            return kx < ky
        }.map(\.element)
        var bars: [String: [Bar]] = [:]
        for s in steps {
            guard let h = s.host else { continue }
            bars[h, default: []].append(
                Bar(
                    step: s.step, outcome: Self.outcome(s.status), start: at(s.startedAt),
                    end: s.finishedAt.map(at) ?? end, message: s.message))
        }
        for (host, bake) in Self.bakes(steps, at: at, end: end) { bars[host, default: []].append(bake) }
        lanes = order.map { h in
            Lane(
                host: h, rolloutStep: stepOf[h] ?? nil,
                bars: (bars[h] ?? []).sorted { ($0.start, $0.end) < ($1.start, $1.end) })
        }

        marks = steps.compactMap { s in
            guard s.host == nil, s.step == "rollout", let m = s.message, m.hasPrefix("step "),
                let label = m.split(separator: " ", maxSplits: 2).dropFirst().first, m.contains(" starts:")
            else { return nil }
            return Mark(at: at(s.startedAt), label: "step \(label)")
        }

        var gates: [Gate] = []
        var lastFailedGate: (LedgerStep, GateLine)?
        for s in steps where s.host == nil && s.step == "gate" {
            guard let line = GateLine(s.message ?? "") else { continue }
            let sample = Sample(
                at: at(s.startedAt), value: s.value.flatMap { $0.isFinite ? $0 : nil }, ok: s.status != "failed",
                detail: line.detail)
            if !sample.ok { lastFailedGate = (s, line) }
            if !gates.contains(where: { $0.name == line.gate }) {
                gates.append(Gate(name: line.gate, max: Self.threshold(of: line.gate, settings), series: []))
            }
            let i = gates.firstIndex { $0.name == line.gate }!
            let key = line.host ?? ""
            if let j = gates[i].series.firstIndex(where: { $0.host == key }) {
                gates[i].series[j].samples.append(sample)
            } else {
                gates[i].series.append(Series(host: key, samples: [sample]))
            }
        }
        self.gates = gates

        // The failure that stopped the run: the earliest of the first failed step on a host (not a
        // rollback's own), the first failed run-level event (a hook, the migrations check), and
        // the gate sample that crossed its limit (the last failed one: the bake stops right there).
        let stopped: Set<LedgerAttempt.Outcome> = [.failed, .rolledBack, .rollbackFailed, .interrupted]
        guard stopped.contains(attempt.outcome) else {
            failure = nil
            return
        }
        var candidates: [Failure] = []
        if let s = steps.first(where: { $0.host != nil && $0.status == "failed" && !$0.step.hasPrefix("rollback") }) {
            candidates.append(
                Failure(
                    at: at(s.finishedAt ?? s.startedAt), host: s.host, step: s.step,
                    message: s.message ?? s.stderrTail ?? "failed"))
        }
        if let s = steps.first(where: { $0.host == nil && $0.status == "failed" && $0.step != "gate" }) {
            candidates.append(Failure(at: at(s.startedAt), host: nil, step: s.step, message: s.message ?? "failed"))
        }
        if let last = lastFailedGate {
            let (s, line) = last
            candidates.append(
                Failure(at: at(s.startedAt), host: line.host, step: "gate \(line.gate)", message: line.detail))
        }
        failure =
            candidates.min { $0.at < $1.at }
            ?? Failure(at: end, host: nil, step: attempt.state, message: attempt.error ?? attempt.outcome.rawValue)
    }

    static func outcome(_ status: String) -> String {
        switch status {
        case "ok", "info": return "ok"
        case "failed": return "failed"
        case "interrupted": return "interrupted"
        default: return "running"
        }
    }

    /// Bakes are run-level (state transitions into and out of `bake`): each is drawn on the lanes
    /// of the hosts switched before it started, the ones it watched.
    static func bakes(_ steps: [LedgerStep], at: (Date) -> Double, end: Double) -> [(String, Bar)] {
        var out: [(String, Bar)] = []
        var start: Double?
        let transitions = steps.filter { $0.host == nil && $0.step == "state" }
        let switches = steps.compactMap { s in s.step == "switch" ? s.host.map { (at(s.startedAt), $0) } : nil }
        func close(_ from: Double, _ to: Double, outcome: String) {
            let watched = Set(switches.filter { $0.0 <= from }.map(\.1))
            for h in watched.sorted() { out.append((h, Bar(step: "bake", outcome: outcome, start: from, end: to))) }
        }
        for t in transitions {
            guard let (from, to) = DeployPhase.transition(in: t.message ?? "") else { continue }
            if to == .bake { start = at(t.startedAt) }
            if from == .bake, let s = start {
                let bad = [.failed, .rollingBack, .rolledBack, .rollbackFailed].contains(to)
                close(s, at(t.startedAt), outcome: bad ? "failed" : "ok")
                start = nil
            }
        }
        if let s = start { close(s, end, outcome: "running") }
        return out
    }

    /// The gate's `max` as the run recorded it (`rollout.gates[i].max`, the gate named by its
    /// `name`, else by its type).
    static func threshold(of gate: String, _ settings: [String: String]) -> Double? {
        var i = 0
        while let type = settings["rollout.gates[\(i)].type"] {
            if (settings["rollout.gates[\(i)].name"] ?? type) == gate {
                return settings["rollout.gates[\(i)].max"].flatMap { Double($0.trimmed()) }
            }
            i += 1
        }
        return nil
    }

    /// Each host's position in the config's `hosts` list, as recorded (a plain list is one
    /// comma-separated value; a list of mappings is indexed).
    static func hostOrder(_ settings: [String: String]) -> [String: Int] {
        var out: [String: Int] = [:]
        if let plain = settings["hosts"] {
            for (i, h) in plain.components(separatedBy: ", ").enumerated() where out[h] == nil { out[h] = i }
        }
        var i = 0
        while let h = settings["hosts[\(i)].host"] ?? settings["hosts[\(i)]"] {
            if out[h] == nil { out[h] = i }
            i += 1
        }
        return out
    }
}
