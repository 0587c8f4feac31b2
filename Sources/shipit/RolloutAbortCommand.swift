import ArgumentParser
import ShipitCore

struct RolloutAbortCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "abort",
        abstract: "Roll back exactly the hosts a paused (or crashed) rollout switched, and release its lock.",
        discussion: """
            Hosts of steps the rollout never reached are not touched (the release is removed from them).
            Also picks up a rollout whose process died mid-step (recorded as interrupted). Exits 0 when
            every switched host is back on its previous release, 5 if some could not be.
            """
    )

    @OptionGroup var common: ConfigOptions
    @OptionGroup var run: RunOptions

    func run() async throws {
        try run.checkFlags()
        Signals.install()
        let config = try await common.loadMaskingSecrets(wholeHosts: true)
        try await run.resume(config, mode: .abort, json: common.json)
    }
}
