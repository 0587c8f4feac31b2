import ArgumentParser
import FoundationEssentials
import ShipitCore

/// The flags every run that changes hosts shares (deploy, rollback).
struct RunOptions: ParsableArguments {
    @Option(name: .customLong("lock-wait"), help: "Seconds to wait for another run's deploy lock.")
    var lockWait: Int = 0

    @Option(
        name: .long,
        help: ArgumentHelp(
            "Seconds the run may take: past them it stops, rolls back what it switched, and exits 124.",
            valueName: "seconds"))
    var deadline: Double?

    @Option(
        name: .long,
        help: ArgumentHelp(
            "Pipeline output: auto (GITHUB_ACTIONS / GITLAB_CI), github, gitlab or none.", valueName: "platform"))
    var ci: String = "auto"

    @Option(
        name: .customLong("github-deployment"),
        help: ArgumentHelp(
            "GitHub Actions: record the run as a deployment to this environment (Deployments API; needs GITHUB_TOKEN).",
            valueName: "environment"))
    var githubDeployment: String?

    @Option(
        name: .customLong("environment-url"),
        help: ArgumentHelp("The deployed environment's URL, for the GitHub deployment status.", valueName: "url"))
    var environmentURL: String?

    @Flag(
        name: .shortAndLong,
        help:
            "Print every step of every host and every gate sample (the default sums up gate samples, and steps past 10 hosts)."
    )
    var verbose = false

    @Flag(name: .shortAndLong, help: "Print only failures and the final summary.")
    var quiet = false

    var level: ProgressDigest.Level { verbose ? .verbose : quiet ? .quiet : .normal }

    @Option(
        name: .customLong("report-dir"),
        help: ArgumentHelp(
            "Write the run's picture (shipit report --html) to DIR/<attempt>.html when it ends, e.g. for a CI artifact.",
            valueName: "dir"))
    var reportDir: String?

    /// `--report-dir`: the finished run's picture from the ledger (a failure to write it is a
    /// warning: it never changes the run's outcome).
    func writeReport(_ config: DeployConfig, _ report: DeployReport) async {
        guard let reportDir, let id = report.attemptID else { return }
        let (ledger, status) = await LedgerAccess.forReading(config)
        guard let ledger else {
            Console.shared.err("shipit: warning: --report-dir: no ledger to draw the run from (\(status))")
            return
        }
        do {
            let path = try await RunReport.write(attemptID: id, ledger: ledger, to: reportDir)
            Console.shared.err("shipit: the run's picture: \(path)")
        } catch {
            Console.shared.err("shipit: warning: --report-dir: \(error)")
        }
    }

    /// `--github-deployment`: the run recorded as a GitHub deployment (warnings on stderr).
    func withGitHubDeployment(_ run: () async throws -> DeployReport) async throws -> DeployReport {
        try await GitHubDeployments.recording(
            environment: githubDeployment, environmentURL: environmentURL,
            warn: { Console.shared.err("shipit: warning: " + $0) }, run)
    }

    /// The renderer for this run: text or NDJSON, with the pipeline's groups and reports.
    func renderer(_ config: DeployConfig, json: Bool) throws -> DeployRenderer {
        let platform = try CIPlatform.detect(ci)
        let rollback = "shipit rollback --config \(config.file)" + (config.stage.map { " --stage \($0)" } ?? "")
        return DeployRenderer(
            json: json, hostCount: config.hosts.count, bake: config.rollout?.bake, level: level,
            ci: CIOutput(platform: platform, rollbackCommand: rollback))
    }

    /// Called first by each command that has these flags (not as ArgumentParser's `validate()`,
    /// which would turn the usage error into exit 1).
    func checkFlags() throws {
        try FlagRange.check(lockWait, flag: "--lock-wait", 0...86400, unit: "seconds")
        try FlagRange.positive(deadline, flag: "--deadline", max: 86400)
        if verbose && quiet { throw ShipitError.input("--verbose and --quiet: choose one") }
    }

    /// Runs `body` with a deployment set up for `config` (signals, ledger, fleet), renders the
    /// report, and exits with its code.
    func launch(
        _ config: DeployConfig, json: Bool, options: Deployment.Options, _ body: (Deployment) async -> DeployReport
    ) async throws {
        let renderer = try renderer(config, json: json)
        try await launch(config, renderer: renderer, options: options, body)
    }

    func launch(
        _ config: DeployConfig, renderer: DeployRenderer, options: Deployment.Options,
        transport: (any HostTransport)? = nil, _ body: (Deployment) async -> DeployReport
    ) async throws {
        let flag = InterruptFlag()
        var options = options
        options.lockWaitSeconds = lockWait
        options.deadline = deadline
        let report = try await withGitHubDeployment {
            try await RunLauncher.run(
                config, options: options, interrupt: flag, warn: { Console.shared.err("shipit: warning: " + $0) },
                notify: renderer.notice, transport: transport, body)
        }
        renderer.report(report)
        await writeReport(config, report)
        if report.exitCode != .success { throw ExitCode(report.exitCode.rawValue) }
    }

    /// `rollout promote|abort` (an abort that rolled every switched host back exits 0: the
    /// report's exit code says so).
    func resume(_ config: DeployConfig, mode: DeployStateMachine.Resume, json: Bool) async throws {
        let renderer = try renderer(config, json: json)
        var options = Deployment.Options()
        options.lockWaitSeconds = lockWait
        options.deadline = deadline
        let report = try await withGitHubDeployment {
            try await RunLauncher.resume(
                config, mode: mode, options: options, interrupt: InterruptFlag(),
                warn: { Console.shared.err("shipit: warning: " + $0) }, notify: renderer.notice)
        }
        renderer.report(report)
        await writeReport(config, report)
        if report.exitCode != .success { throw ExitCode(report.exitCode.rawValue) }
    }
}
