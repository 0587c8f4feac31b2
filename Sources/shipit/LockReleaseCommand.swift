import ArgumentParser
import FoundationEssentials
import ShipitCore

extension LockCommand {
    struct Release: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Remove a lock left by a dead run (needs --force).")
        @OptionGroup var common: ConfigOptions
        @Flag(name: .long, help: "Really remove the lock, whoever holds it.")
        var force = false

        func run() async throws {
            guard force else {
                throw ShipitError.input("--force is required: releasing another run's lock lets two deploys overlap")
            }
            let config = try common.load()
            _ = try await LockCommand.show(config)
            let results = await withFleet(config) { await FleetLocks(config: config, transport: $0).forceRelease() }
            for h in config.hosts {
                let r = results[h] ?? "no result"
                Console.shared.out("\(h): lock \(r.map { "FAILED: \($0)" } ?? "released")")
            }
        }
    }
}
