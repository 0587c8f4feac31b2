import ArgumentParser
import ShipitCore

struct RolloutPromoteCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "promote",
        abstract: "Run the paused rollout's remaining steps (its release is already on every host).",
        discussion: """
            Picks up the newest attempt of this app and stage if it is a paused rollout: pre-flight on
            every host (taking up the lock it left), then the next steps with their bakes and gates, and
            on a failure the rollback of every host switched so far. Exit codes as for deploy.
            """
    )

    @OptionGroup var common: ConfigOptions
    @OptionGroup var run: RunOptions

    func run() async throws {
        try run.checkFlags()
        Signals.install()
        let config = try await common.loadMaskingSecrets(wholeHosts: true)
        try await run.resume(config, mode: .promote, json: common.json)
    }
}
