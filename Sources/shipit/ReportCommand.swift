import ArgumentParser
import FoundationEssentials
import ShipitCore

struct ReportCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "report",
        abstract: "One run as a self-contained HTML page: a lane per host, its steps on a time axis, the gates.",
        discussion: """
            Read from the ledger alone (no host is contacted): each host's steps as bars coloured by
            outcome, the rollout steps marked, each gate's samples over time against its threshold,
            and the failure that stopped the run. The page needs no network: no script, font or
            image is fetched. Default: the newest run of the app (and stage).
              shipit report --html run.html
              shipit report --attempt 20261128T030012Z-4f2a --html - > run.html
            """
    )

    @OptionGroup var common: ConfigOptions

    @Option(name: .long, help: ArgumentHelp("The run to draw (default: the newest).", valueName: "id"))
    var attempt: String?

    @Option(name: .long, help: ArgumentHelp("Write the page to this file ('-': stdout).", valueName: "file"))
    var html: String

    func run() async throws {
        let config = try common.load()
        let (opened, status) = await LedgerAccess.forReading(config)
        guard let ledger = opened else {
            throw ShipitError("no run to report: the ledger \(config.ledgerPath) is \(status)")
        }
        let id: String
        if let attempt {
            id = attempt
        } else {
            guard let newest = try await RunReport.latest(app: config.app, stage: config.stage, ledger: ledger) else {
                throw ShipitError(
                    "no run of \(config.app)\(config.stage.map { " (\($0))" } ?? "") in the ledger \(config.ledgerPath)"
                )
            }
            id = newest.id
        }
        let page = try await RunReport.html(attemptID: id, ledger: ledger)
        if html == "-" {
            Console.shared.out(page)
            return
        }
        do { try page.write(toFile: html, atomically: true, encoding: .utf8) } catch {
            throw ShipitError("--html: cannot write \(html): \(error)")
        }
        Console.shared.out("Report of \(id) written to \(html).")
    }
}
