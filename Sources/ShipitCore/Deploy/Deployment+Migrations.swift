import Foundation

extension Deployment {
    var migrationCommands: MigrationCommands? {
        config.migrations.map { MigrationCommands(layout: config.layout, settings: $0) }
    }

    /// Pre-flight of the database, on the migration host: the applied record against this release
    /// (drift = refuse), then what will run, and contract migrations refused without
    /// `--allow-contract`. Nothing changes anywhere if this fails.
    func checkMigrations(_ given: MigrationSet? = nil) async -> Bool {
        guard let settings = config.migrations, let cmds = migrationCommands, let set = given ?? options.migrations else { return true }
        let host = settings.migrationHost(in: config)
        let r = await phase("migrations check", on: [host]) { [self] h in await remote(h, cmds.status()) }
        guard let result = r[host], result.ok else {
            _ = record(r, step: "preflight")
            await releaseLocks()
            return false
        }
        let applied = MigrationSet.applied(result.output.all("applied"))
        var problems = set.drift(applied: applied).map { "schema drift: \($0)" }
        let pending = set.pending(applied: applied)
        let contract = pending.filter(\.isContract)
        if !contract.isEmpty && !options.allowContract {
            for f in contract {
                for x in f.findings {
                    problems.append("\(x.file):\(x.line): \(x.rule) (\(x.kind.rawValue), not rollback-safe): \(x.statement) — instead: \(x.alternative)")
                }
            }
            problems.append("refused: a code rollback after these would break; deploy with --allow-contract to apply them anyway (the release is then recorded rollback-unsafe)")
        }
        if !problems.isEmpty {
            for p in problems { notify(DeployNotice(host: host, step: "migrations", status: .failed, message: p)) }
            hosts[host]?.failedStep = "preflight"
            hosts[host]?.error = problems.joined(separator: "; ")
            await recorder?.event("migrations", message: problems.joined(separator: "\n"), ok: false)
            await releaseLocks()
            return false
        }
        pendingMigrations = pending
        let labels = pending.map { $0.label + ($0.isContract ? " (contract)" : " (expand)") }
        notify(DeployNotice(host: host, step: "migrations", status: .info,
                            message: pending.isEmpty ? "schema up to date (\(applied.count) applied)" : "pending: \(labels.joined(separator: ", "))"))
        await recorder?.change {
            $0.migrations = labels
            $0.rollbackUnsafe = !contract.isEmpty
        }
        return true
    }

    /// The migrate step: after the upload, before any switch. A failure stops the deploy with every
    /// host still on its old release.
    func runMigrations(_ releaseID: String) async -> Bool {
        guard let settings = config.migrations, let cmds = migrationCommands, !pendingMigrations.isEmpty else { return true }
        let host = settings.migrationHost(in: config)
        let files = pendingMigrations
        let fromImage = config.strategy == .image
        let r = await phase("migrate", on: [host]) { [self] h in await remote(h, cmds.apply(releaseID: releaseID, files: files, fromImage: fromImage)) }
        let failed = record(r, step: "migrate")
        let applied = r[host]?.output.all("applied") ?? []
        await recorder?.change { a in a.migrations = files.map { f in f.label + (applied.contains(f.label) ? "" : " (not applied)") + (f.isContract ? " (contract)" : " (expand)") } }
        if failed.isEmpty && files.contains(where: \.isContract) && !options.force {
            // Old code cannot run against the new schema: no automatic rollback from here on.
            machine.forbidRollback()
            notify(DeployNotice(host: nil, step: "migrations", status: .info, message: "contract migration applied: a failure from here on is fixed forward, not rolled back (unless --force)"))
        }
        return failed.isEmpty
    }

    /// Image strategy: the release's migrations, read out of the pulled image on the migration host.
    func fetchImageMigrations(reference: String, releaseID: String) async -> MigrationSet? {
        guard let settings = config.migrations, let cmds = migrationCommands, let image = config.image else { return MigrationSet(files: []) }
        let host = settings.migrationHost(in: config)
        let r = await phase("migrations fetch", on: [host]) { [self] h in
            await remote(h, cmds.fetchFromImage(engine: image.engine, reference: reference, releaseID: releaseID))
        }
        guard let out = r[host], out.ok else { _ = record(r, step: "preflight"); return nil }
        let dir = NSTemporaryDirectory() + "shipit-mig-\(UUID().uuidString.prefix(8))"
        let sub = dir + "/" + settings.dir
        defer { try? FileManager.default.removeItem(atPath: dir) }
        do {
            try FileManager.default.createDirectory(atPath: sub, withIntermediateDirectories: true)
            for line in out.output.all("mfile") {
                let parts = line.split(separator: " ", maxSplits: 1).map(String.init)
                guard parts.count == 2, !parts[0].contains("/"), let data = Data(base64Encoded: parts[1]) else { continue }
                try data.write(to: URL(fileURLWithPath: sub + "/" + parts[0]))
            }
            return try MigrationSet.load(root: dir, dir: settings.dir)
        } catch {
            hosts[host]?.failedStep = "preflight"
            hosts[host]?.error = "migrations in \(reference): \(error)"
            return nil
        }
    }

    /// Why going back to `target` is unsafe: a release deployed after it applied a contract
    /// migration (from the ledger). nil when safe or unknown (no ledger).
    func rollbackBlocker(target: String) async -> String? {
        guard let ledger else { return nil }
        let blockers = await RollbackTarget.unsafeReleases(since: target, ledger: ledger, app: config.app, stage: config.stage)
        guard !blockers.isEmpty else { return nil }
        let what = blockers.map { "\($0.releaseID) (\($0.migrations.filter { $0.contains("contract") }.joined(separator: ", ")))" }.joined(separator: "; ")
        return "rolling back to \(target) would go past \(what): old code cannot run against that schema. Fix forward (a new release that works with the new schema), or `shipit rollback --force` if you know it is safe"
    }
}
