import FoundationEssentials
import ShipitCore
import ShipitSupport

/// What `status`, `releases` and `verify` print with --json: the hosts, and the verdict.
struct FleetSnapshot: Encodable {
    let schema = 1
    let app: String
    let stage: String?
    let time: Date
    let hosts: [HostInspection]
    let verdict: FleetVerdict?

    static func take(_ config: DeployConfig, _ options: FleetInspector.Options) async -> [HostInspection] {
        var hosts = await withFleet(config) {
            await FleetInspector(config: config, transport: $0).inspect(options).hosts
        }
        if hosts.contains(where: { $0.lock != nil }), let ledger = await LedgerAccess.forReading(config).ledger {
            let dead = Set(await LedgerStore.deadHolders(ledger, config: config))
            for i in hosts.indices where hosts[i].lock != nil {
                hosts[i].lock?.stale = false
                hosts[i].markStale(dead)
            }
        }
        return hosts
    }

    /// The release of the newest succeeded attempt in the ledger (what hosts should be running).
    static func ledgerRelease(_ config: DeployConfig) async -> String? {
        let (ledger, _) = await LedgerAccess.forReading(config)
        guard let ledger else { return nil }
        let recent =
            (try? await ledger.attempts(LedgerQuery(app: config.app, stage: .some(config.stage), limit: 200))) ?? []
        return recent.last { $0.outcome == .succeeded && !$0.releaseID.isEmpty }?.releaseID
    }

    static func printProblems(_ v: FleetVerdict) {
        guard !v.ok else { return }
        Console.shared.out("problems:")
        for p in v.problems { Console.shared.out("  - \(p)") }
    }

    static func table(_ rows: [[String]]) {
        let widths = rows.reduce(into: [Int]()) { w, row in
            for (i, c) in row.enumerated() { if i < w.count { w[i] = max(w[i], c.count) } else { w.append(c.count) } }
        }
        for row in rows {
            Console.shared.out(
                row.enumerated().map { i, c in i == row.count - 1 ? c : c.padded(toLength: widths[i]) }.joined(
                    separator: "  "))
        }
    }
}
