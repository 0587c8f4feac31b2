import FoundationEssentials
import ShipitSupport

/// `shipit sync`, up to the deploy: the fleet's release from the ledger, every host inspected, the
/// plan, and — when some host is behind — the release's environment and its files (symlink) or its
/// image digest (image) from a host that runs it. The deploy itself is the ordinary pipeline on the hosts behind only.
public enum SyncRun {
    public struct Prepared: Sendable {
        public var plan: SyncPlan
        /// The config restricted to the hosts behind, with the release's environment (nil: nothing to do).
        public var config: DeployConfig?
        /// The release's files copied from a host that runs it, or its image by digest.
        public var input: ReleaseInput?
    }

    public static func prepare(_ config: DeployConfig, ledger: Ledger, force: Bool, workDir: String) async throws
        -> Prepared
    {
        // One read of the app's attempts: the fleet's release and every release recorded come from it.
        let attempts = try await ledger.attempts(LedgerQuery(app: config.app, stage: .some(config.stage)))
        guard let fleet = SyncPlan.fleetAttempt(attempts) else {
            throw ShipitError.input("sync: the ledger has no successful deploy or rollback of \(config.app) to go by")
        }
        let target = fleet.releaseID
        let known = SyncPlan.knownReleases(attempts)
        return try await withFleet(config) { transport in
            let hosts = await FleetInspector(config: config, transport: transport).inspect(.init()).hosts
            let plan = SyncPlan.make(target: target, hosts: hosts, known: known, force: force)
            guard !plan.behind.isEmpty else { return Prepared(plan: plan) }
            guard let donor = plan.donor else {
                throw ShipitError("sync: no reachable host runs \(target) to copy it from")
            }
            var c = config
            c.hosts = plan.behind
            c.resolvedEnv = try await ReleaseCopy.environment(
                from: donor, releaseID: target, config: config, transport: transport)
            let input: ReleaseInput =
                Strategies.make(config).releaseFilesOnHost
                ? .artifact(
                    try await ReleaseCopy.artifact(
                        from: donor, releaseID: target, config: config, transport: transport, workDir: workDir))
                : try await ReleaseCopy.image(
                    from: donor, releaseID: target, digest: fleet.imageDigest, config: config, transport: transport)
            return Prepared(plan: plan, config: c, input: input)
        }
    }
}
