import FoundationEssentials

/// Judges a fleet snapshot: drift (hosts not all on one release), unhealthy or unreachable hosts,
/// changed release files, supervision that drifted from what a deploy set up (a unit that should
/// run and does not, a serving unit that would not start at boot). Each problem is one sentence
/// naming the host.
public struct FleetVerdict: Codable, Sendable, Equatable {
    public var release: String?
    public var drift: Bool
    public var problems: [String]

    public var ok: Bool { problems.isEmpty }
    public var exitCode: ShipitExit { ok ? .success : .unhealthy }

    /// `checkFiles`: the release files against their manifest; `checkSupervisor`: each
    /// supervised unit that should run is active and enabled (`verify` checks both).
    public init(
        _ hosts: [HostInspection], checkFiles: Bool = false, checkSupervisor: Bool = false,
        expectedRelease: String? = nil
    ) {
        var problems: [String] = []
        let reachable = hosts.filter(\.reachable)
        let currents = Set(reachable.map { $0.current ?? "" })
        drift = currents.count > 1
        release = currents.count == 1 ? reachable.first?.current : nil
        for h in hosts {
            if !h.reachable {
                problems.append("\(h.host): unreachable: \(h.error ?? "?")")
                continue
            }
            if h.current == nil {
                // A first deploy that failed after its switch left its release marked, stopped.
                problems.append(
                    "\(h.host): no current release"
                        + (h.failed.last.map {
                            " (\($0) failed and was stopped: there was nothing to return to; deploy a fixed release)"
                        } ?? ""))
            }
            if let c = h.container, c != "running" {
                problems.append("\(h.host): the container of \(h.current ?? "?") is \(c), not running")
            }
            if let p = h.live, !p.ok { problems.append("\(h.host): live check failed: \(p.detail)") }
            if let p = h.ready, !p.ok { problems.append("\(h.host): ready check failed: \(p.detail)") }
            for p in h.roles ?? [] where !p.ok { problems.append("\(h.host): \(p.detail)") }
            if checkFiles, let f = h.files, f.status != "intact" {
                let list = (f.modified.map { "modified \($0)" } + f.added.map { "added \($0)" }).prefix(5).joined(
                    separator: ", ")
                problems.append("\(h.host): release files \(f.status)" + (list.isEmpty ? "" : ": \(list)"))
            }
            if checkSupervisor, let s = h.supervisor {
                for p in s.problems { problems.append("\(h.host): supervisor: \(p)") }
            }
        }
        if drift {
            let groups = Dictionary(grouping: reachable, by: { $0.current ?? "(none)" })
                .map { "\($0.key) on \($0.value.map(\.host).joined(separator: ", "))" }.sorted()
            problems.append(
                "drift: hosts are on different releases: " + groups.joined(separator: "; ")
                    + " (shipit sync brings every host to the release of the last successful deploy or rollback)")
        }
        if let expectedRelease, let release, release != expectedRelease {
            problems.append(
                "hosts run \(release) but the ledger's last successful switch was to \(expectedRelease) (changed outside shipit?)"
            )
        }
        self.problems = problems
    }
}
