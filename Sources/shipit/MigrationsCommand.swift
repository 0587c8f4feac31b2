import ArgumentParser
import FoundationEssentials
import ShipitCore

struct MigrationsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "migrations",
        abstract: "The migration gate: lint a release's migrations, or compare them with the database.",
        subcommands: [Check.self, Status.self]
    )
}
