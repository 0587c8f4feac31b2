import FoundationEssentials
import ShipitSupport

extension DeployConfig {
    /// `env:` and `secrets:` resolved on the deployer (`resolvedEnv`), before any host is touched.
    /// A value this strategy's env file cannot hold is refused here too, naming it.
    public func resolvingEnvironment(
        environment: [String: String] = ProcessInfo.processInfo.environment
    ) async throws(ShipitError) -> DeployConfig {
        var c = self
        c.resolvedEnv = try await SecretResolver.resolve(
            releaseEnv, directory: FilePath.directory(of: file), environment: environment)
        if strategy == .image, let env = c.resolvedEnv { _ = try env.engineFile() }
        return c
    }

    /// What the ledger records of the resolved environment, with the ledger's fingerprint key:
    /// each secret's keyed fingerprint in the settings (so a changed value is a changed config),
    /// and the whole environment's identity (an image release with another config is another
    /// release).
    public mutating func recordEnvironment(key: Data) {
        guard let env = resolvedEnv else { return }
        for (name, fp) in env.fingerprints(key: key) { settings[ReleaseEnvironment.settingsKey(secret: name)] = fp }
        envIdentity = env.identity(key: key)
        rehash()
    }
}
