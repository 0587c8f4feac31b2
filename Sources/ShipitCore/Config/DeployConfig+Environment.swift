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
        if let env = c.resolvedEnv, Strategies.make(self).containerEnvFile { _ = try env.engineFile() }
        // The front door's certificate pair, read and checked here too: before any host is touched.
        if let door = traffic?.frontDoor, let tls = door.tls {
            if door.acme == nil {
                let pair = try tls.read()
                _ = try CertificatePairCheck.check(cert: pair.cert, key: pair.key, names: door.names)
            }
            // The HTTPS smoke test connects from the deployer itself (with an ordered certificate
            // too).
            if let far = hosts.first(where: { (try? connection.endpoint(for: $0))?.jumps.isEmpty == false }) {
                throw .input(
                    "traffic.tls: \(far) is reached through a jump host, and the public HTTPS smoke test connects from the deployer directly: not supported yet"
                )
            }
        }
        return c
    }

    /// For a command that shows hosts' text (exec, logs, triage, rollback): the secrets resolved
    /// only so their values are masked in what it prints. A source that fails is a warning here:
    /// an operator reading logs at 3 a.m. must not be stopped by a vault that does not answer.
    public func resolveSecretsForMasking(warn: (String) -> Void) async {
        guard !releaseEnv.secrets.isEmpty else { return }
        var settings = releaseEnv
        settings.env = []
        do { _ = try await SecretResolver.resolve(settings, directory: FilePath.directory(of: file)) } catch {
            warn("warning: \(error.message): that secret's value is masked only where its form is recognised")
        }
    }

    /// Secrets whose values are too short to be masked in output (a warning each).
    public var unmaskedSecretWarnings: [String] {
        (resolvedEnv?.entries ?? []).filter { $0.secret && $0.value.count < SecretValues.minimumLength }.map {
            "warning: secrets.\($0.name): a value shorter than \(SecretValues.minimumLength) characters is not masked in output"
        }
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
