import ArgumentParser
import FoundationEssentials
import ShipitCore

struct DeployCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "deploy",
        abstract: "Ship a release to every host: pre-flight, upload, atomic switch, smoke test; roll back on failure."
    )

    @OptionGroup var common: ConfigOptions
    @OptionGroup var run: RunOptions

    @Option(name: .long, help: ArgumentHelp("Directory to release (tarred once on this machine).", valueName: "dir"))
    var from: String?

    @Option(
        name: .long,
        help: ArgumentHelp(
            "Git ref to release (git archive of the repository in the current directory).", valueName: "ref"))
    var ref: String?

    @Option(
        name: .long,
        help: ArgumentHelp(
            "Image tag to deploy (strategy: image); its digest is what gets recorded and rolled back to.",
            valueName: "tag"))
    var tag: String?

    @Flag(name: .customLong("dry-run"), help: "Print the plan (every command per host) and change nothing.")
    var dryRun = false

    @Flag(name: .customLong("no-rollback"), help: "On failure after the switch, leave hosts on the new release.")
    var noRollback = false

    @Flag(
        name: .customLong("allow-contract"),
        help: "Apply contract (rollback-unsafe) migrations instead of refusing them.")
    var allowContract = false

    @Flag(name: .long, help: "After a contract migration, still roll back automatically on failure.")
    var force = false

    @Option(
        name: .long,
        help: ArgumentHelp(
            "Rollout steps, cumulative host counts or percentages (1,50%,100%) and request shares (requests=10%,100%) (overrides rollout.steps).",
            valueName: "steps"))
    var steps: String?

    @Option(
        name: .long,
        help: ArgumentHelp("Seconds to watch each rollout step (overrides rollout.bake).", valueName: "seconds"))
    var bake: Double?

    func run() async throws {
        // First: a signal while the artifact is built (which can take a while) must also end in
        // a clean, recorded, interrupted run, not kill the process. A dry run just stops.
        if !dryRun { Signals.install() }
        try run.checkFlags()
        try FlagRange.check(bake, flag: "--bake", 0...86400)
        var config = try common.load(wholeHosts: true)
        try applyRollout(&config)
        let request = try DeployRequest(strategy: config.strategy, from: from, ref: ref, tag: tag, dryRun: dryRun)
        guard !dryRun else {
            return try await request.withInput { input in
                if case .artifact(let a) = input { try a.links.checkShared(config.shared) }
                Console.shared.out(DryRunPlan.render(config, input: input, lockWaitSeconds: run.lockWait))
            }
        }
        // Secrets before any host: a source that fails stops the run here, naming it.
        let resolved = try await config.resolvingEnvironment()
        for w in resolved.unmaskedSecretWarnings { Console.shared.err(w) }
        let renderer = try run.renderer(resolved, json: common.json)
        // The handshakes start before the artifact is built (a big one takes a while): they need
        // nothing from it and change nothing on a host.
        try await withFleet(resolved) { transport in
            let hosts = resolved.hosts
            let started = ContinuousClock.now
            // Not awaited: the run's own pre-flight waits for each host's session it needs.
            _ = Task { [transport] in await transport.prepare(hosts) }
            try await request.withInput { input in
                // A build that took long left the sessions idle as long: a NAT or sshd's
                // ClientAlive may have dropped them. The run then opens its own.
                let fresh = ContinuousClock.now - started > Self.idleSessionsKept
                if fresh { await transport.close() }
                try await deploy(resolved, request, input, renderer: renderer, transport: fresh ? nil : transport)
            }
        }
    }

    /// How long sessions opened before the artifact was built are still used after it.
    static let idleSessionsKept = Duration.seconds(30)

    func deploy(
        _ config: DeployConfig, _ request: DeployRequest, _ input: ReleaseInput, renderer: DeployRenderer,
        transport: (any HostTransport)?
    ) async throws {
        // Before any step on a host: a shared path through a symbolic link of the artifact would
        // reach outside the release.
        if case .artifact(let a) = input { try a.links.checkShared(config.shared) }
        renderer.notice(
            DeployNotice(host: nil, step: "deploy", status: .info, message: request.describe(input, config: config))
        )
        var options = Deployment.Options()
        options.autoRollback = !noRollback
        options.reason = "deploy \(request.reasonName(input, config: config))"
        options.allowContract = allowContract
        options.force = force
        try await run.launch(config, renderer: renderer, options: options, transport: transport) {
            await $0.deploy(input)
        }
    }

    /// `--steps` and `--bake` over the config's `rollout` (made from them when it has none), recorded
    /// as overrides so the ledger's config hash covers what really ran.
    func applyRollout(_ config: inout DeployConfig) throws {
        if let steps {
            let targets = try RolloutSettings.parseSteps(steps, field: "--steps")
            if config.rollout == nil { config.rollout = RolloutSettings.defaults(health: config.health) }
            config.rollout?.steps = targets
            try config.rollout?.checkRequestSteps(traffic: config.traffic, field: "--steps")
            config.override("rollout.steps", targets.map(\.description).joined(separator: ", "))
        }
        if let bake {
            guard config.rollout != nil else {
                throw ShipitError.input("--bake: needs rollout steps (rollout.steps in the config, or --steps)")
            }
            config.rollout?.bake = bake
            config.override("rollout.bake", String(bake))
        }
    }
}
