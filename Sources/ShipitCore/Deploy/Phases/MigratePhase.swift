/// After staging, before any switch: the pending migrations on the migration host, then the
/// pre-switch hook. A failure stops the deploy with every host still on its old release.
struct MigratePhase: PhaseRunner {
    func run(_ context: DeployContext, _ run: DeployRun) async -> PhaseResult {
        var p = PhaseRun(context, run)
        guard await MigrationGate.apply(&p), await p.runHook("pre-switch") else { return p.finish(.failed) }
        return p.finish(.done)
    }
}
