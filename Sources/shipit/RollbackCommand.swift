import ArgumentParser
import ShipitCore

struct RollbackCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rollback",
        abstract: "Switch every host back to a previous release (default: the newest good one present on all hosts)."
    )

    @OptionGroup var common: ConfigOptions
    @OptionGroup var run: RunOptions

    @Option(name: .long, help: "Release id to roll back to (image strategy: also a tag or a digest).")
    var to: String?

    @Flag(name: .long, help: "Roll back past a release that applied a contract migration.")
    var force = false

    func run() async throws {
        try run.checkFlags()
        Signals.install()
        let config = try await common.loadMaskingSecrets(wholeHosts: true)
        if let to, !RollbackTarget.isDigest(to) { try Names.identifier(to, field: "--to") }
        var options = Deployment.Options()
        options.reason = "rollback"
        options.force = force
        try await run.launch(config, json: common.json, options: options) { await $0.rollback(to: to) }
    }
}
