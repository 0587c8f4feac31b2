import ArgumentParser
import FoundationEssentials
import ShipitCore

extension LockCommand {
    struct Status: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Show who holds the lock on each host, and for how long.")
        @OptionGroup var common: ConfigOptions

        func run() async throws {
            let config = try common.load()
            if try await LockCommand.show(config) { throw ExitCode(ShipitExit.locked.rawValue) }
        }
    }
}
