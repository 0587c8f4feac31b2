import FoundationEssentials
import ShipitSupport

/// Which progress lines a person reads, by output level, so the output grows with what matters and
/// not with time or fleet size. Pure: each notice in, the notices to print out.
///
/// - `verbose`: every notice, as they come.
/// - `normal`: a gate's passing samples are left out (the bake's closing line sums them up; a
///   failing one is printed whole). Past `summarizeAbove` hosts, a step's per-host lines become one
///   line per step when the phase moves on (`switch ok: 198/200 host(s) …; failed: …`); a failing
///   host is still printed whole as it fails.
/// - `quiet`: failures only (the final summary is the renderer's).
public struct ProgressDigest: Sendable {
    public enum Level: String, Sendable, CaseIterable {
        case quiet, normal, verbose
    }

    struct StepTally: Sendable {
        var ok = 0
        var failed: [(host: String, why: String)] = []
        var slowest: (host: String, seconds: Double)?
        /// What the hosts' ok lines said (a role KILLed after its stop timeout, a hand-over's
        /// time…), each distinct text once, with the hosts that said it.
        var notes: [String: [String]] = [:]
        var noteOrder: [String] = []
    }

    public let level: Level
    public let hostCount: Int
    public let summarizeAbove: Int
    private var order: [String] = []
    private var tallies: [String: StepTally] = [:]

    /// Failed hosts named in one step's line; the rest are counted.
    static let namedFailures = 10
    /// Distinct texts of ok lines kept in one step's line (`-v` prints them all).
    static let namedNotes = 3

    public init(level: Level, hostCount: Int, summarizeAbove: Int = 10) {
        self.level = level
        self.hostCount = hostCount
        self.summarizeAbove = summarizeAbove
    }

    var summarizing: Bool { hostCount > summarizeAbove }

    public mutating func take(_ n: DeployNotice) -> [DeployNotice] {
        switch level {
        case .verbose: return [n]
        case .quiet: return n.status == .failed ? [n] : []
        case .normal: break
        }
        // A gate's samples are not a host's steps: the passing ones are summed up by the bake's
        // closing line, a failing one is printed whole.
        if n.step == "gate" { return n.status == .failed ? [n] : [] }
        guard let host = n.host, summarizing else {
            return (n.step == "state" ? flush(at: n.time) : []) + [n]
        }
        switch n.status {
        case .started: return []
        case .info: return [n]
        case .ok, .failed:
            if tallies[n.step] == nil { order.append(n.step) }
            var t = tallies[n.step] ?? StepTally()
            if n.status == .ok {
                t.ok += 1
                if !n.message.isEmpty {
                    if t.notes[n.message] == nil { t.noteOrder.append(n.message) }
                    t.notes[n.message, default: []].append(host)
                }
            } else {
                t.failed.append((host, n.message))
            }
            if let s = n.seconds, s > (t.slowest?.seconds ?? -1) { t.slowest = (host, s) }
            tallies[n.step] = t
            return n.status == .failed ? [n] : []
        }
    }

    /// The per-step lines not printed yet (at a phase change, and at the end of the run).
    public mutating func flush(at time: Date = Date()) -> [DeployNotice] {
        defer {
            order = []
            tallies = [:]
        }
        return order.compactMap { step in
            guard let t = tallies[step] else { return nil }
            let total = t.ok + t.failed.count
            var message = "\(t.ok)/\(total) host(s) ok"
            if let s = t.slowest { message += ", slowest \(s.host) \(String(cFormat: "%.2fs", s.seconds))" }
            if !t.noteOrder.isEmpty {
                let named = t.noteOrder.prefix(Self.namedNotes).map { text -> String in
                    let on = t.notes[text] ?? []
                    let who = on.count == 1 ? on[0] : "\(on.count) host(s)"
                    return "\(Self.short(text)) (\(who))"
                }
                let more = t.noteOrder.count > Self.namedNotes ? " and \(t.noteOrder.count - Self.namedNotes) more" : ""
                message += "; said: " + named.joined(separator: "; ") + more
            }
            if !t.failed.isEmpty {
                let named = t.failed.prefix(Self.namedFailures).map { "\($0.host) (\(Self.short($0.why)))" }
                let more = t.failed.count > Self.namedFailures ? " and \(t.failed.count - Self.namedFailures) more" : ""
                message += "; failed: " + named.joined(separator: ", ") + more
            }
            return DeployNotice(
                host: nil, step: step, status: t.failed.isEmpty ? .ok : .failed, message: message, time: time)
        }
    }

    static func short(_ s: String) -> String {
        let line = s.split(separator: "\n").first.map(String.init) ?? ""
        return line.count > 80 ? String(line.prefix(77)) + "..." : line
    }
}
