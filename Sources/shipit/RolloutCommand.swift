import ArgumentParser
import ShipitCore

struct RolloutCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rollout",
        abstract: "Continue or abort a rollout paused by rollout.pause_after.",
        subcommands: [RolloutPromoteCommand.self, RolloutAbortCommand.self]
    )
}
