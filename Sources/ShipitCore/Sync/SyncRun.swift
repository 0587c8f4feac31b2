import FoundationEssentials
import ShipitSupport

/// `shipit sync`, up to the deploy: the fleet's release from the ledger, every host inspected, the
/// plan, and — when some host is behind — the release's files and environment copied from a host
/// that runs it. The deploy itself is the ordinary pipeline on the hosts behind only.
public enum SyncRun {
    public struct Prepared: Sendable {
        public var plan: SyncPlan
        /// The config restricted to the hosts behind, with the release's environment (nil: nothing to do).
        public var config: DeployConfig?
        public var artifact: Artifact?
    }

    public static func prepare(_ config: DeployConfig, ledger: Ledger, force: Bool, workDir: String) async throws
        -> Prepared
    {
        guard Strategies.make(config).releaseFilesOnHost else {
            throw ShipitError.input(
                "sync: not yet for strategy image: deploy the fleet's tag again (shipit deploy --tag …) to bring a host in line"
            )
        }
        guard let target = try await SyncPlan.fleetRelease(ledger, config: config) else {
            throw ShipitError.input("sync: the ledger has no successful deploy or rollback of \(config.app) to go by")
        }
        let known = try await SyncPlan.knownReleases(ledger, config: config)
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
            let artifact = try await ReleaseCopy.artifact(
                from: donor, releaseID: target, config: config, transport: transport, workDir: workDir)
            return Prepared(plan: plan, config: c, artifact: artifact)
        }
    }
}
