import ArgumentParser
import FoundationEssentials
import ShipitCore
import ShipitSupport

struct SyncCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sync",
        abstract:
            "Bring every host that is not on the fleet's release (the last successful deploy or rollback) to it, through the deploy pipeline; hosts already on it are not touched."
    )

    @OptionGroup var common: ConfigOptions
    @OptionGroup var run: RunOptions

    @Flag(name: .long, help: "Also move hosts on a release the ledger never recorded.")
    var force = false

    func run() async throws {
        try run.checkFlags()
        Signals.install()
        let config = try await common.loadMaskingSecrets(wholeHosts: true)
        let (ledger, status) = await LedgerAccess.forReading(config)
        guard let ledger else { throw ShipitError("sync: needs the ledger (\(status)) to know the fleet's release") }
        let work = FilePath.temporaryDirectory + "/shipit-sync-\(UInt64.random(in: 0...UInt64.max))"
        try FileManager.default.createDirectory(
            atPath: work, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        defer { try? FileManager.default.removeItem(atPath: work) }
        let prepared = try await SyncRun.prepare(config, ledger: ledger, force: force, workDir: work)
        let plan = prepared.plan
        for (host, why) in plan.unreachable.sorted(by: { $0.key < $1.key }) {
            Console.shared.err("sync: \(host) unreachable, not synced: \(why)")
        }
        for f in plan.foreign {
            Console.shared.err(
                "sync: \(f.host) runs \(f.release), a release the ledger never recorded: left alone (--force moves it)")
        }
        guard let synced = prepared.config, let input = prepared.input else {
            Console.shared.out(
                "sync: every reachable host runs \(plan.target)\(plan.foreign.isEmpty ? "" : " (but for the ones above)")"
            )
            if !plan.foreign.isEmpty || !plan.unreachable.isEmpty { throw ExitCode(ShipitExit.unhealthy.rawValue) }
            return
        }
        let renderer = try run.renderer(synced, json: common.json)
        let from: String
        if case .artifact = input { from = "copied from" } else { from = "its image by digest, as on" }
        renderer.notice(
            DeployNotice(
                host: nil, step: "sync", status: .info,
                message:
                    "\(plan.target) to \(plan.behind.joined(separator: ", ")) (\(from) \(plan.donor ?? "?")); \(plan.onTarget.count) host(s) already on it are not touched"
            ))
        var options = Deployment.Options()
        options.reason = "sync \(plan.target)"
        try await run.launch(synced, renderer: renderer, options: options) { await $0.deploy(input) }
    }
}
