import FoundationEssentials
import SSH

/// Looks at every host in parallel: one inspection script per host (one exec channel), plus the
/// health endpoints through the SSH tunnel, each probed once (no retries: this is a snapshot).
public struct FleetInspector: Sendable {
    public struct Options: Sendable {
        public var health = false
        public var verifyFiles = false
        public var historyLines = 0
        public init(health: Bool = false, verifyFiles: Bool = false, historyLines: Int = 0) {
            self.health = health
            self.verifyFiles = verifyFiles
            self.historyLines = historyLines
        }
    }

    public struct Result: Sendable {
        public var hosts: [HostInspection]
        public var history: [String: [HostHistory.Entry]]
    }

    public let config: DeployConfig
    public let transport: HostTransport

    public init(config: DeployConfig, transport: HostTransport) {
        self.config = config
        self.transport = transport
    }

    public func inspect(_ options: Options) async -> Result {
        var c = config
        c.connection.commandTimeout = min(config.connection.commandTimeout, 60)
        let strategy = Strategies.make(c)
        let health = options.health ? config.health : nil
        let roles = config.hostRoles
        let results = await Fleet.bounded(config.hosts, limit: config.connection.parallel) {
            [transport] host -> (HostInspection, [HostHistory.Entry]) in
            var h = HostInspection(host: host, reachable: true)
            let out: ScriptOutput
            do {
                let r = try await transport.run(
                    host, strategy.inspect(verify: options.verifyFiles, historyLines: options.historyLines, host: host))
                out = ScriptOutput(r.stdoutText)
                if !r.status.succeeded { h.error = "inspection exited \(r.exitCode): \(r.stderrText.suffix(300))" }
            } catch {
                return (HostInspection(host: host, reachable: false, error: ErrorText.withoutHost(error)), [])
            }
            h.read(out)
            if options.health, h.current != nil, let check = strategy.roleCheck(host: host, deadline: 0, interval: 0.1)
            {
                h.roles = await Self.checkRoles(
                    transport, host: host, check, names: roles.processes(on: host).map(\.name))
            }
            if let health, roles.runsApp(host) {
                h.live = await Self.probe(transport, host: host, health: health, path: health.live)
                h.ready = await Self.probe(transport, host: host, health: health, path: health.ready)
            }
            return (h, HostHistory.parse(out.all(.history).joined(separator: "\n")))
        }
        return Result(
            hosts: config.hosts.compactMap { results[$0]?.0 },
            history: results.mapValues(\.1))
    }

    /// One try of the roles' check: a probe per role, "worker: pid 42 (worker v2 ok…)".
    static func checkRoles(_ transport: HostTransport, host: String, _ check: RemoteCommand, names: [String]) async
        -> [HostInspection.Probe]
    {
        do {
            let r = try await transport.run(host, check)
            let out = ScriptOutput(r.stdoutText)
            let failure = out.first(.error)
            var probes: [HostInspection.Probe] = names.compactMap { name in
                if let pid = out.first("role.\(name).ok") {
                    let said = out.first("role.\(name).said").map { " (\($0.trimmed()))" } ?? ""
                    return HostInspection.Probe(ok: true, detail: "\(name): pid \(pid)\(said)")
                }
                // The check stops at the first role that fails; the ones after it were not checked.
                if let failure, failure.hasPrefix("role \(name):") {
                    return HostInspection.Probe(ok: false, detail: failure)
                }
                return nil
            }
            // A check that failed before naming a role (the script itself) is a failure too.
            if !r.status.succeeded, probes.allSatisfy(\.ok) {
                probes.append(
                    HostInspection.Probe(ok: false, detail: "roles check: \(failure ?? "exit \(r.exitCode)")"))
            }
            return probes
        } catch {
            return [HostInspection.Probe(ok: false, detail: "roles check: \(ErrorText.withoutHost(error))")]
        }
    }

    static func probe(_ transport: HostTransport, host: String, health: DeployConfig.Health, path: String) async
        -> HostInspection.Probe
    {
        let url = health.publicURL(of: host, path: path)
        do {
            let r = try await transport.publicGet(host, health: health, path: path)
            let ok = (200..<300).contains(r.status)
            return HostInspection.Probe(
                ok: ok, detail: "GET \(url) → \(r.status)" + (ok ? "" : " \(HealthProbe.snippet(r.body))"))
        } catch {
            return HostInspection.Probe(ok: false, detail: "GET \(url) → \(ErrorText.withoutHost(error))")
        }
    }
}
