import FoundationEssentials

/// The migration gate's part of a run (docs/migrations.md): in pre-flight, the database's record
/// checked against the release (drift and contract migrations refused); in the migrate phase,
/// the pending files applied on the migration host; for a rollback, whether going back would
/// cross a contract migration.
enum MigrationGate {
    /// Reads the release's migrations (from the artifact on the deployer, or out of the image on
    /// the migration host), then checks them against what the database applied. Nothing changes
    /// anywhere if this fails.
    static func check(_ run: inout PhaseRun, _ release: ResolvedRelease) async -> Bool {
        let config = run.config
        guard let settings = config.migrations else { return true }
        let host = settings.migrationHost(in: config)
        guard let set = await load(&run, release, settings: settings, host: host) else { return false }
        let cmds = MigrationCommands(layout: config.layout, settings: settings)
        let r = await run.step("migrations check", on: [host], running: cmds.status(releaseID: release.id))
        guard let result = r[host], result.ok else {
            _ = run.record(r, step: "preflight")
            return false
        }
        let applied = MigrationSet.applied(result.output.all(.applied))
        var problems = set.drift(applied: applied).map { "schema drift: \($0)" }
        let pending = set.pending(applied: applied)
        let contract = pending.filter(\.isContract)
        if !contract.isEmpty && !run.context.options.allowContract {
            for f in contract {
                for x in f.findings {
                    problems.append(
                        "\(x.file):\(x.line): \(x.rule) (\(x.kind.rawValue), not rollback-safe): \(x.statement) — instead: \(x.alternative)"
                    )
                }
            }
            problems.append(
                "refused: a code rollback after these would break; deploy with --allow-contract to apply them anyway (the release is then recorded rollback-unsafe)"
            )
        }
        if !problems.isEmpty {
            for p in problems { run.notify(DeployNotice(host: host, step: "migrations", status: .failed, message: p)) }
            run.apply(.hostFailed(host, step: "preflight", error: problems.joined(separator: "; ")))
            await run.recorder?.event("migrations", message: problems.joined(separator: "\n"), ok: false)
            return false
        }
        run.apply(.pendingMigrations(pending))
        let labels = pending.map { $0.label + ($0.isContract ? " (contract)" : " (expand)") }
        run.notify(
            DeployNotice(
                host: host, step: "migrations", status: .info,
                message: pending.isEmpty
                    ? "schema up to date (\(applied.count) applied)" : "pending: \(labels.joined(separator: ", "))"))
        await run.recorder?.change {
            $0.migrations = labels
            $0.rollbackUnsafe = !contract.isEmpty
        }
        return true
    }

    /// The release's migration files, from where the strategy keeps them.
    static func load(_ run: inout PhaseRun, _ release: ResolvedRelease, settings: MigrationSettings, host: String) async
        -> MigrationSet?
    {
        if let given = run.context.options.migrations { return given }
        let source: MigrationSource
        do { source = try run.strategy.migrationSource(release, settings: settings) } catch {
            run.apply(.hostFailed(host, step: "preflight", error: "migrations: \(error.message)"))
            return nil
        }
        switch source {
        case .artifact(let path):
            do { return try MigrationSet.load(artifact: path, dir: settings.dir) } catch {
                run.apply(.hostFailed(host, step: "preflight", error: "migrations: \(error)"))
                return nil
            }
        case .remote(let command):
            let r = await run.step("migrations fetch", on: [host], running: command)
            guard let out = r[host], out.ok else {
                _ = run.record(r, step: "preflight")
                return nil
            }
            do { return try MigrationSet.load(encoded: out.output.all(.mfile), dir: settings.dir) } catch {
                run.apply(
                    .hostFailed(
                        host, step: "preflight",
                        error: "migrations in \(release.imageReference ?? release.id): \(error)"))
                return nil
            }
        }
    }

    /// The migrate step: the pending files, in order, each in its own transaction.
    static func apply(_ run: inout PhaseRun) async -> Bool {
        let config = run.config
        guard let settings = config.migrations, !run.run.pendingMigrations.isEmpty, let id = run.run.release?.id else {
            return true
        }
        let host = settings.migrationHost(in: config)
        let files = run.run.pendingMigrations
        let cmds = MigrationCommands(layout: config.layout, settings: settings)
        let r = await run.step(
            "migrate", on: [host],
            running: cmds.apply(releaseID: id, files: files, fromImage: run.strategy.migrationsFromImage))
        let failed = run.record(r, step: "migrate")
        let applied = r[host]?.output.all(.applied) ?? []
        await run.recorder?.change { a in
            a.migrations = files.map { f in
                f.label + (applied.contains(f.label) ? "" : " (not applied)")
                    + (f.isContract ? " (contract)" : " (expand)")
            }
        }
        if failed.isEmpty && files.contains(where: \.isContract) && !run.context.options.force {
            // Old code cannot run against the new schema: no automatic rollback from here on.
            run.apply(.forbidRollback)
            run.notify(
                DeployNotice(
                    host: nil, step: "migrations", status: .info,
                    message:
                        "contract migration applied: a failure from here on is fixed forward, not rolled back (unless --force)"
                ))
        }
        return failed.isEmpty
    }

    /// Why going back to `target` is unsafe: a release deployed after it applied a contract
    /// migration (from the ledger). nil when safe or unknown (no ledger).
    static func rollbackBlocker(_ context: DeployContext, target: String) async -> String? {
        let config = context.config
        guard let ledger = context.ledger else { return nil }
        let blockers = await RollbackTarget.unsafeReleases(
            since: target, ledger: ledger, app: config.app, stage: config.stage)
        guard !blockers.isEmpty else { return nil }
        let what = blockers.map {
            "\($0.releaseID) (\($0.migrations.filter { $0.contains("contract") }.joined(separator: ", ")))"
        }.joined(separator: "; ")
        return
            "rolling back to \(target) would go past \(what): old code cannot run against that schema. Fix forward (a new release that works with the new schema), or `shipit rollback --force` if you know it is safe"
    }
}
