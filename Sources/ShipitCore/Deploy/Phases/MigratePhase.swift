/// After staging, before any switch: the pending migrations on the migration host, then the
/// pre-switch hook. A failure stops the deploy with every host still on its old release.
struct MigratePhase: PhaseRunner {
    func run(_ d: Deployment) async -> PhaseOutcome {
        guard await MigrationGate(run: d).apply(), await d.runHook("pre-switch") else { return .failed }
        return .done
    }
}
