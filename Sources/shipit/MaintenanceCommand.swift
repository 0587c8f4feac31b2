import ArgumentParser
import ShipitCore

struct MaintenanceCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "maintenance",
        abstract: "Put every host's proxy in maintenance (503 with Retry-After and a message), or take it out."
    )

    enum State: String, ExpressibleByArgument, CaseIterable { case on, off }

    @OptionGroup var common: ConfigOptions

    @Argument(help: "on or off.")
    var state: State

    @Option(name: .long, help: "What users read while it is on.")
    var message = "Down for maintenance, back soon."

    @Option(name: .customLong("retry-after"), help: "Seconds clients are told to wait (the Retry-After header).")
    var retryAfter = 120

    func run() async throws {
        try FlagRange.check(retryAfter, flag: "--retry-after", 1...86400, unit: "seconds")
        let config = try common.load()
        try MaintenanceSwitch.validate(config, message: state == .on ? message : "")
        let writable = try await LedgerStore.openForWriting(
            config, warn: { Console.shared.err("shipit: warning: " + $0) })
        let results = try await withFleet(config) {
            try await MaintenanceSwitch(config: config, transport: $0, ledger: writable).set(
                on: state == .on, message: message, retryAfter: retryAfter)
        }
        var failed = 0
        for h in config.hosts {
            guard results.keys.contains(h) else {
                Console.shared.out(
                    "\(h): runs no app (only \(config.hostRoles.roles(of: h).joined(separator: ", "))): no proxy, left as it is"
                )
                continue
            }
            if let why = results[h] ?? nil {
                failed += 1
                Console.shared.out("\(h): FAILED: \(why)")
            } else {
                Console.shared.out("\(h): maintenance \(state.rawValue)")
            }
        }
        if failed > 0 { throw ExitCode(ShipitExit.failure.rawValue) }
    }
}
