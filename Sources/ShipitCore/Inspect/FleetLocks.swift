import SSH

/// `shipit lock status|release`: each host's deploy lock, read with the strategy's inventory
/// (parsed like every inspection), and marked stale when the ledger knows its run died.
public struct FleetLocks: Sendable {
    public let config: DeployConfig
    public let transport: HostTransport

    public init(config: DeployConfig, transport: HostTransport) {
        self.config = config
        self.transport = transport
    }

    /// Every host's lock (nil when free), or why the host could not be read.
    public func read(deadHolders: Set<String>) async -> [HostInspection] {
        let strategy = Strategies.make(config)
        let results = await Fleet.bounded(config.hosts, limit: config.connection.parallel) {
            [transport] host -> HostInspection in
            do {
                let r = try await transport.run(host, strategy.inventory(host: host))
                var h = HostInspection(host: host, reachable: true)
                h.read(ScriptOutput(r.stdoutText))
                h.markStale(deadHolders)
                return h
            } catch {
                return HostInspection(host: host, reachable: false, error: ErrorText.withoutHost(error))
            }
        }
        return config.hosts.compactMap { results[$0] }
    }

    /// Removes the lock on every host, whoever holds it: host → nil when released, else the error.
    public func forceRelease() async -> [String: String?] {
        let command = Strategies.make(config).forceUnlock()
        return await Fleet.bounded(config.hosts, limit: config.connection.parallel) { [transport] host -> String? in
            do {
                let r = try await transport.run(host, command)
                return r.status.succeeded ? nil : "exit \(r.exitCode): \(r.stderrText.suffix(300))"
            } catch { return ErrorText.withoutHost(error) }
        }
    }
}

extension HostInspection {
    /// A lock whose holder the ledger knows is over: the next run from this machine takes it over.
    public mutating func markStale(_ deadHolders: Set<String>) {
        if let holder = lock?.holder, deadHolders.contains(holder) { lock?.stale = true }
    }
}
