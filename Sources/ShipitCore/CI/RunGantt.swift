import FoundationEssentials
import ShipitSupport

/// A run drawn as a Mermaid `gantt` chart for a pipeline's Markdown summary (GitHub renders
/// Mermaid): the phases on one lane, then each host's steps as bars, failed ones marked. Built from
/// the run's progress notices as they come. Pure.
public struct RunGantt: Sendable {
    struct Bar: Sendable {
        var name: String
        var start: Date
        var end: Date
        var failed: Bool
    }

    private var phases: [(phase: DeployPhase, start: Date)] = []
    private var lanes: [String: [Bar]] = [:]
    private var hostOrder: [String] = []
    private var last: Date?
    /// Host lanes drawn; the rest are counted in a note (a chart of 200 lanes reads as nothing).
    public var maxLanes = 20
    /// Bars on one host's lane (a run has about ten steps a host; a rollout a few more).
    static let maxBars = 40

    public init() {}

    public mutating func add(_ n: DeployNotice) {
        last = max(last ?? n.time, n.time)
        if let to = n.enteredPhase {
            phases.append((to, n.time))
            return
        }
        // Gate samples are the bake's (its bar is on the run's lane): drawn, a long bake would be
        // thousands of bars, past what Mermaid renders.
        guard let host = n.host, n.step != "gate", n.status == .ok || n.status == .failed, let seconds = n.seconds
        else { return }
        if lanes[host] == nil { hostOrder.append(host) }
        guard (lanes[host]?.count ?? 0) < Self.maxBars else { return }
        lanes[host, default: []].append(
            Bar(name: n.step, start: n.time.addingTimeInterval(-seconds), end: n.time, failed: n.status == .failed))
    }

    /// The chart as a fenced `mermaid` block, or "" when there is nothing to draw.
    public func markdown(title: String) -> String {
        guard !phases.isEmpty || !lanes.isEmpty, let end = last else { return "" }
        var lines = ["```mermaid", "gantt", "  title \(Self.label(title))", "  dateFormat x", "  axisFormat %H:%M:%S"]
        if !phases.isEmpty {
            lines.append("  section run")
            for (i, p) in phases.enumerated() where !p.phase.isTerminal {
                let stop = i + 1 < phases.count ? phases[i + 1].start : end
                lines.append(Self.task(p.phase.rawValue, p.start, stop, failed: false))
            }
        }
        for host in hostOrder.prefix(maxLanes) {
            lines.append("  section \(Self.label(host))")
            for b in lanes[host] ?? [] { lines.append(Self.task(b.name, b.start, b.end, failed: b.failed)) }
        }
        if hostOrder.count > maxLanes {
            lines.append("  section \(hostOrder.count - maxLanes) more host(s)")
            lines.append(Self.task("not drawn", phases.first?.start ?? end, end, failed: false))
        }
        lines.append("```")
        return lines.joined(separator: "\n") + "\n"
    }

    static func task(_ name: String, _ start: Date, _ end: Date, failed: Bool) -> String {
        let ms = { (d: Date) in String(Int64((d.timeIntervalSince1970 * 1000).rounded())) }
        // A bar needs a length to be seen: at least one millisecond.
        let stop = max(end, start.addingTimeInterval(0.001))
        return "  \(label(name)) :\(failed ? "crit, " : "")\(ms(start)), \(ms(stop))"
    }

    /// Text Mermaid reads as syntax (`:` ends a task's name, `#` and `;` start other things, a
    /// newline ends the line) made plain; the rest is kept.
    static func label(_ s: String) -> String {
        let plain = s.map { c -> Character in
            switch c {
            case ":", "#", ";", "\n", "\r", "`": return " "
            default: return c
            }
        }
        return String(plain).trimmed()
    }
}
