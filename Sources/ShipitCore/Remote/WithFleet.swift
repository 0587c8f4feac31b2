/// Opens a fleet's SSH sessions for `body` (each on first use, reused for every step) and closes
/// every one before returning, whatever happens: whoever opens the connections closes them (a
/// process exiting while libssh2 still works on another thread crashes in OpenSSL).
public func withFleet<T>(hosts: [String], settings: ConnectionSettings, _ body: (HostTransport) async throws -> T)
    async rethrows -> T
{
    let transport = SSHTransport(fleet: Fleet(hosts: hosts, settings: settings))
    do {
        let result = try await body(transport)
        await transport.close()
        return result
    } catch {
        await transport.close()
        throw error
    }
}

/// The fleet of `config`.
public func withFleet<T>(_ config: DeployConfig, _ body: (HostTransport) async throws -> T) async rethrows -> T {
    try await withFleet(hosts: config.hosts, settings: config.connection, body)
}
