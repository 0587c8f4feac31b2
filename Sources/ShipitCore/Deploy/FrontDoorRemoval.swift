import FoundationEssentials

/// `shipit proxy remove`: the app's servers taken out of every host's front door, the other apps'
/// tested and reloaded. What it serves stops answering at the app's names; its slots keep running
/// until a deploy without `traffic.hosts` (or an operator) stops them.
public struct FrontDoorRemoval: Sendable {
    public let config: DeployConfig
    public let transport: HostTransport

    public init(config: DeployConfig, transport: HostTransport) {
        self.config = config
        self.transport = transport
    }

    /// Checked before any host is touched.
    public static func validate(_ config: DeployConfig) throws {
        guard Strategies.make(config).traffic?.frontDoor != nil else {
            throw ShipitError.input(
                "proxy remove: \(config.file) has no front door (traffic.hosts): the app's own proxy goes with 'traffic: none'"
            )
        }
    }

    /// Host → what was done (`removed`, `stopped`: no app left, `absent`), or the error.
    public func run() async throws -> [String: Result<String, ShipitError>] {
        try Self.validate(config)
        guard let door = Strategies.make(config).traffic?.frontDoor else { return [:] }
        let hosts = config.hosts.filter(config.hostRoles.runsApp)
        let supervision = Supervision(settings: config.supervisor, app: config.app, layout: config.layout)
        return await Fleet.bounded(hosts, limit: config.connection.parallel) { [transport] host in
            await transport.runScript(host, door.removeScript(host: host, supervision: supervision).command)
                .map { $0.first(.front) ?? "?" }
        }
    }
}
