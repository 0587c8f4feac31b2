import ArgumentParser
import FoundationEssentials
import ShipitCore

struct ChangesCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "changes",
        abstract:
            "What changed: one UTC timeline of deploys, rollbacks, failed and interrupted runs and config changes.",
        discussion: """
            Merges the ledger with the history each host keeps, so it still answers when the ledger is missing
            (and says so). Default window: the last 24 hours.
              shipit changes --since 2h
              shipit changes --from 2026-11-28T03:00Z --to 2026-11-28T05:00Z --host web-2 --json
            """
    )

    @OptionGroup var common: ConfigOptions

    @Option(name: .long, help: ArgumentHelp("How far back: 30m, 2h, 7d, 2w.", valueName: "duration"))
    var since: String?

    @Option(name: .long, help: ArgumentHelp("Window start (UTC, e.g. 2026-11-28T03:00Z).", valueName: "time"))
    var from: String?

    @Option(name: .long, help: ArgumentHelp("Window end (UTC).", valueName: "time"))
    var to: String?

    @Option(name: .long, help: "Only attempts that touched this host.")
    var host: String?

    @Option(name: .long, help: "Show the newest N changes of the window (0 = all).")
    var limit: Int = ChangesQuery.defaultLimit

    @Flag(name: .customLong("no-hosts"), help: "Read the ledger only; do not contact the hosts for their history.")
    var noHosts = false

    func run() async throws {
        try FlagRange.check(limit, flag: "--limit", 0...1_000_000, unit: "(0 = all)")
        var (start, end) = try UTCTime.window(since: since, from: from, to: to)
        let config = try common.load()
        if since == nil && from == nil { start = (end ?? Date()).addingTimeInterval(-86400) }
        // The bare form, as the config keeps it (`[::1]` is `::1`).
        let host = try self.host.map { try HostName.normalized($0, field: "--host") }
        if let host {
            guard config.hosts.contains(host) else {
                throw ShipitError.input(
                    "--host: \(host) is not one of the hosts (\(config.hosts.joined(separator: ", ")))")
            }
        }
        let (ledger, status) = await LedgerAccess.forReading(config)
        let timeline = await withFleet(config) {
            await ChangesQuery(from: start, to: end, host: host, askHosts: !noHosts, limit: limit)
                .run(config: config, ledger: ledger, ledgerStatus: status, transport: $0)
        }
        if common.json { JSONOutput.print(timeline) } else { TimelineRenderer.print(timeline) }
    }
}
