import ArgumentParser
import Foundation
import ShipitCore

struct DeployCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "deploy",
        abstract: "Ship a release to every host: pre-flight, upload, atomic switch, smoke test; roll back on failure."
    )

    @OptionGroup var common: ConfigOptions

    @Option(name: .long, help: ArgumentHelp("Directory to release (tarred once on this machine).", valueName: "dir"))
    var from: String?

    @Option(name: .long, help: ArgumentHelp("Git ref to release (git archive of the repository in the current directory).", valueName: "ref"))
    var ref: String?

    @Option(name: .long, help: ArgumentHelp("Image tag to deploy (strategy: image); its digest is what gets recorded and rolled back to.", valueName: "tag"))
    var tag: String?

    @Flag(name: .customLong("dry-run"), help: "Print the plan (every command per host) and change nothing.")
    var dryRun = false

    @Flag(name: .customLong("no-rollback"), help: "On failure after the switch, leave hosts on the new release.")
    var noRollback = false

    @Option(name: .customLong("lock-wait"), help: "Seconds to wait for another run's deploy lock.")
    var lockWait: Int = 0

    @Flag(name: .customLong("allow-contract"), help: "Apply contract (rollback-unsafe) migrations instead of refusing them.")
    var allowContract = false

    @Flag(name: .long, help: "After a contract migration, still roll back automatically on failure.")
    var force = false

    func run() async throws {
        var renderer = DeployRenderer(json: common.json)
        do {
            guard lockWait >= 0 else { throw ShipitError.input("--lock-wait: must be 0 or more") }
            let config = try common.load()
            renderer = DeployRenderer(json: common.json, hostCount: config.hosts.count)
            if config.strategy == .image {
                guard let tag, from == nil, ref == nil else { throw ShipitError.input("--tag: strategy image deploys an image tag (--tag v2), not --from/--ref") }
                guard tag.count <= 128, tag.range(of: "^[A-Za-z0-9_][A-Za-z0-9._-]*$", options: .regularExpression) != nil else {
                    throw ShipitError.input("--tag: '\(tag)' is not a valid image tag")
                }
                return try await deployImage(config, tag: tag, renderer: renderer)
            }
            guard tag == nil else { throw ShipitError.input("--tag: only for strategy image; this config uses symlink (--from DIR or --ref GITREF)") }
            guard (from == nil) != (ref == nil) else { throw ShipitError.input("give exactly one of --from DIR or --ref GITREF") }
            let work = NSTemporaryDirectory() + "shipit-\(UUID().uuidString.prefix(8))"
            try FileManager.default.createDirectory(atPath: work, withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(atPath: work) }
            let source: Artifact.Source = from.map { .directory($0) } ?? .git(repo: FileManager.default.currentDirectoryPath, ref: ref!)
            let artifact = try Artifact.build(from: source, workDir: work)
            if dryRun { return printPlan(config, artifact) }
            var migrations: MigrationSet?
            if let m = config.migrations {
                // Read from exactly what ships: the artifact, unpacked here.
                let tree = work + "/tree"
                try FileManager.default.createDirectory(atPath: tree, withIntermediateDirectories: true)
                try LocalProcess.run(["tar", "-xzf", artifact.path, "-C", tree])
                migrations = try MigrationSet.load(root: tree, dir: m.dir)
            }

            renderer.notice(DeployNotice(host: nil, step: "deploy", status: .info,
                                         message: "\(config.app) release \(artifact.releaseID) (\(artifact.size) bytes, sha256 \(artifact.sha256.prefix(12))) to \(config.hosts.count) host(s)"))
            let deployment = try await makeDeployment(config, reason: "deploy \(artifact.releaseID)", renderer: renderer, migrations: migrations)
            try finish(await deployment.deploy(artifact), renderer)
        } catch let e as ShipitError {
            Console.shared.err("shipit deploy: \(e.message)")
            throw ExitCode(e.exitCode.rawValue)
        }
    }

    func deployImage(_ config: DeployConfig, tag: String, renderer: DeployRenderer) async throws {
        guard let image = config.image else { return }
        if dryRun {
            let cmds = ImageCommands(layout: config.layout, app: config.app, image: image)
            print("# dry run: \(config.app) image \(image.name):\(tag) to \(config.hosts.joined(separator: ", ")); nothing is executed")
            for host in config.hosts {
                print("\n## \(host)")
                print("# preflight + pull\n" + Redactor().redact(cmds.preflight(lockInfo: "holder=<run id>", lockWaitSeconds: lockWait, staleHolders: [], pull: "\(image.name):\(tag)").rendered))
                print("# create\n" + Redactor().redact(cmds.create(releaseID: "<tag>-<digest12>", reference: "\(image.name)@<digest>", bind: config.health?.address ?? host, envFile: image.envFile == nil ? nil : "<env file>").rendered))
            }
            return
        }
        renderer.notice(DeployNotice(host: nil, step: "deploy", status: .info, message: "\(config.app) image \(image.name):\(tag) to \(config.hosts.count) host(s)"))
        let deployment = try await makeDeployment(config, reason: "deploy \(image.name):\(tag)", renderer: renderer)
        try finish(await deployment.deployImage(tag: tag), renderer)
    }

    /// Signals, options, the ledger (its dead runs' locks may be taken over) and the SSH fleet.
    func makeDeployment(_ config: DeployConfig, reason: String, renderer: DeployRenderer, migrations: MigrationSet? = nil) async throws -> Deployment {
        let flag = InterruptFlag()
        Signals.install(flag)
        var options = Deployment.Options()
        options.lockWaitSeconds = lockWait
        options.autoRollback = !noRollback
        options.reason = reason
        options.migrations = migrations
        options.allowContract = allowContract
        options.force = force
        let ledger = try await LedgerAccess.forWriting(config)
        options.staleHolders = await LedgerStore.deadHolders(ledger, config: config)
        return Deployment(config: config, transport: SSHTransport(fleet: Fleet(hosts: config.hosts, settings: config.connection)),
                          options: options, interrupt: flag, ledger: ledger, notify: renderer.notice)
    }

    func finish(_ report: DeployReport, _ renderer: DeployRenderer) throws {
        renderer.report(report)
        if report.exitCode != .success { throw ExitCode(report.exitCode.rawValue) }
    }

    func printPlan(_ config: DeployConfig, _ artifact: Artifact) {
        let cmds = SymlinkCommands(layout: config.layout)
        print("# dry run: \(config.app) release \(artifact.releaseID) to \(config.hosts.joined(separator: ", ")); nothing is executed")
        for host in config.hosts {
            print("\n## \(host)")
            print("# preflight\n" + cmds.preflight(lockInfo: "holder=<run id>", lockWaitSeconds: lockWait, requiredKB: Int64(Double(artifact.size) * max(config.diskFactor, 1) / 1024) + 1).rendered)
            print("# upload \(artifact.path) -> \(config.layout.upload(artifact.releaseID)) (sftp, sha256 \(artifact.sha256))")
            print("# extract\n" + cmds.extract(releaseID: artifact.releaseID, sha256: artifact.sha256, shared: config.shared).rendered)
            print("# switch + start\n" + cmds.switchTo(releaseID: artifact.releaseID, start: config.start, env: [("SHIPIT_HOST", host)], historyLine: "<history json>").rendered)
            if let h = config.health { print("# smoke test: GET http://\(h.address ?? host):\(h.port)\(h.live) then \(h.ready) through the SSH tunnel, until \(h.deadline)s") }
            print("# finish\n" + cmds.finish(keep: config.keepReleases, previous: "<previous>", holder: "<run id>").rendered)
        }
    }
}

struct RollbackCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rollback",
        abstract: "Switch every host back to a previous release (default: the newest good one present on all hosts)."
    )

    @OptionGroup var common: ConfigOptions

    @Option(name: .long, help: "Release id to roll back to (image strategy: also a tag or a digest).")
    var to: String?

    @Flag(name: .long, help: "Roll back past a release that applied a contract migration.")
    var force = false

    @Option(name: .customLong("lock-wait"), help: "Seconds to wait for another run's deploy lock.")
    var lockWait: Int = 0

    func run() async throws {
        var renderer = DeployRenderer(json: common.json)
        do {
            let config = try common.load()
            renderer = DeployRenderer(json: common.json, hostCount: config.hosts.count)
            if let to, to.range(of: "^sha256:[0-9a-f]{64}$", options: .regularExpression) == nil { try Names.identifier(to, field: "--to") }
            let flag = InterruptFlag()
            Signals.install(flag)
            var options = Deployment.Options()
            options.lockWaitSeconds = lockWait
            options.reason = "rollback"
            options.force = force
            let ledger = try await LedgerAccess.forWriting(config)
            options.staleHolders = await LedgerStore.deadHolders(ledger, config: config)
            let deployment = Deployment(config: config, transport: SSHTransport(fleet: Fleet(hosts: config.hosts, settings: config.connection)),
                                        options: options, interrupt: flag, ledger: ledger, notify: renderer.notice)
            let report = await deployment.rollback(to: to)
            renderer.report(report)
            if report.exitCode != .success { throw ExitCode(report.exitCode.rawValue) }
        } catch let e as ShipitError {
            Console.shared.err("shipit rollback: \(e.message)")
            throw ExitCode(e.exitCode.rawValue)
        }
    }
}
