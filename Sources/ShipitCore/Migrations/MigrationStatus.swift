import SSH

/// `shipit migrations status`: what the database applied (read on the migration host), and a
/// release's files compared with it.
public struct MigrationStatus: Sendable {
    public let host: String
    public let applied: [MigrationSet.Applied]

    /// Reads the record through the migration host.
    public static func read(_ config: DeployConfig, transport: HostTransport) async throws -> MigrationStatus {
        guard let m = config.migrations else {
            throw ShipitError.input("migrations: this config has no 'migrations' section")
        }
        let host = m.migrationHost(in: config)
        let r = try await transport.run(host, MigrationCommands(layout: config.layout, settings: m).status())
        let out = ScriptOutput(r.stdoutText)
        guard r.status.succeeded else { throw ShipitError(out.first(.error) ?? "status failed on \(host)") }
        return MigrationStatus(host: host, applied: MigrationSet.applied(out.all(.applied)))
    }
}

extension MigrationStatus {
    /// Reads the record through the migration host, on a connection of its own.
    public static func read(_ config: DeployConfig) async throws -> MigrationStatus {
        guard let m = config.migrations else {
            throw ShipitError.input("migrations: this config has no 'migrations' section")
        }
        return try await withFleet(hosts: [m.migrationHost(in: config)], settings: config.connection) {
            try await read(config, transport: $0)
        }
    }
}
