/// `tolerate:` in shipit.yml: how many hosts a run may leave out because they cannot be reached
/// (docs/configuration.md). A host that is reached and then fails — a check, the lock, a smoke test,
/// a gate — is never left out: it fails the run as it always does.
public struct TolerateSettings: Sendable, Equatable {
    public enum Budget: Sendable, Equatable {
        case count(Int)
        /// A share of the run's hosts, rounded down.
        case percent(Double)
    }

    /// Hosts that cannot be connected to or authenticated at the start of a run (default 0: every
    /// host or none).
    public var unreachable: Budget = .count(0)

    public init() {}

    /// How many of `hosts` may be left out.
    public func unreachableAllowed(of hosts: Int) -> Int {
        switch unreachable {
        case .count(let n): return min(n, hosts)
        case .percent(let p): return Int((Double(hosts) * p / 100).rounded(.down))
        }
    }

    public var description: String {
        switch unreachable {
        case .count(let n): return String(n)
        case .percent(let p): return (p == p.rounded() ? String(Int(p)) : String(p)) + "%"
        }
    }
}

extension TolerateSettings {
    /// What a run does with the hosts it could not reach: leave them out (within the budget, and
    /// none of them one the run cannot do without), or go on with every host as without
    /// `tolerate` (the pre-flight then fails on them, nothing changed), saying why.
    public enum Decision: Sendable, Equatable {
        case leaveOut([SkippedHost])
        case keepAll(why: String?)
    }

    /// `unreachable`: host → why. `mustReach`: hosts the run cannot leave out (the migration host).
    public func decide(hosts: [String], unreachable: [String: String], mustReach: [String]) -> Decision {
        guard !unreachable.isEmpty else { return .keepAll(why: nil) }
        let down = hosts.filter { unreachable[$0] != nil }
        let list = down.map { "\($0) (\(unreachable[$0]!))" }.joined(separator: ", ")
        let allowed = unreachableAllowed(of: hosts.count)
        if down.count == hosts.count {
            return .keepAll(why: "no host could be reached: \(list)")
        }
        if let h = mustReach.first(where: { unreachable[$0] != nil }) {
            return .keepAll(why: "\(h) runs the migrations and cannot be left out: \(list)")
        }
        guard down.count <= allowed else {
            return .keepAll(
                why:
                    "\(down.count) host(s) unreachable, over tolerate.unreachable \(description) (\(allowed) of \(hosts.count)): \(list)"
            )
        }
        return .leaveOut(down.map { SkippedHost(host: $0, reason: unreachable[$0]!) })
    }

    /// `tolerate: {unreachable: 2}` or `{unreachable: "10%"}`.
    static func parse(_ r: YAMLReader) throws -> TolerateSettings {
        var t = TolerateSettings()
        let m = try r.mapping(allowed: ["unreachable"])
        if let u = m["unreachable"] {
            let text = try u.string()
            if text.hasSuffix("%") {
                guard let p = Double(text.dropLast()), p.isFinite, (0...100).contains(p) else {
                    throw u.fail("expected a whole number of hosts or a percentage from 0% to 100%")
                }
                t.unreachable = .percent(p)
            } else {
                t.unreachable = .count(try u.int(0...100_000))
            }
        }
        return t
    }
}
