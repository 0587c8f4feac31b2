import FoundationEssentials
import SSH

/// `shipit maintenance on|off`: every host's proxy answers 503 with `Retry-After` and a message
/// (or serves the app again). Recorded in the ledger as an attempt of its own (`maintenance on`),
/// so `changes` lists it, and in each host's history. It takes no deploy lock: an operator may
/// need it while a deploy is stuck.
public struct MaintenanceSwitch: Sendable {
    public let config: DeployConfig
    public let transport: HostTransport
    public let ledger: Ledger?
    public let invoker: Invoker

    public init(config: DeployConfig, transport: HostTransport, ledger: Ledger?, invoker: Invoker = .current()) {
        self.config = config
        self.transport = transport
        self.ledger = ledger
        self.invoker = invoker
    }

    /// Checked before any host is touched.
    public static func validate(_ config: DeployConfig, message: String = "") throws {
        guard config.traffic != nil else {
            throw ShipitError.input(
                "maintenance: needs the traffic switch ('traffic: {proxy: nginx}' in \(config.file))")
        }
        guard TrafficSwitch.isSafeMessage(message) else {
            throw ShipitError.input("--message: at most 500 printable ASCII characters, without \" \\ $ ; { }")
        }
    }

    /// The reload is graceful, so it takes effect a moment later: done once the public port says so.
    func visible(on: Bool, host: String) async -> String? {
        guard let health = config.health else { return nil }
        let deadline = ContinuousClock.now.advanced(by: .seconds(10))
        var last = ""
        while ContinuousClock.now < deadline {
            do {
                let r = try await transport.publicGet(host, health: health, path: "/")
                if (r.headers[TrafficSwitch.maintenanceHeader.lowercased()] == "on") == on { return nil }
                last = "GET / → \(r.status)"
            } catch { last = ErrorText.withoutHost(error) }
            try? await Task.sleep(for: .milliseconds(50))
        }
        return "the proxy did not \(on ? "enter" : "leave") maintenance within 10s (\(last))"
    }

    /// Host → nil when done, else why not.
    public func set(on: Bool, message: String, retryAfter: Int = 120) async throws -> [String: String?] {
        try Self.validate(config, message: on ? message : "")
        let strategy = Strategies.make(config)
        let id = AttemptID.make()
        let state = on ? "on" : "off"
        let by = "\(invoker.user)@\(invoker.machine)"
        let recorder = ledger.map {
            AttemptRecorder(
                ledger: $0,
                attempt: LedgerAttempt(
                    id: id, app: config.app, stage: config.stage, strategy: config.strategy.rawValue,
                    operation: "maintenance", releaseID: state,
                    source: on ? message : nil, commit: nil, ref: nil, user: invoker.user, machine: invoker.machine,
                    pid: invoker.pid, ci: invoker.ci,
                    startedAt: Date(), state: "running", configHash: config.configHash,
                    hosts: config.hosts.map { LedgerHostState(host: $0) }),
                redactor: Redactor(config: config), warn: { _ in })
        }
        try await recorder?.begin(settings: config.settings)
        let history = HostHistory.Entry(
            time: Date(), event: "maintenance", app: config.app, stage: config.stage, release: state,
            previous: nil, attempt: id, by: by, outcome: "succeeded"
        ).jsonLine
        // Hosts that run only role processes (a worker) have no proxy to answer 503.
        let hosts = config.hosts.filter(config.hostRoles.runsApp)
        let results = await Fleet.bounded(hosts, limit: config.connection.parallel) { [transport] host -> String? in
            guard
                let cmd = strategy.maintenance(
                    host: host, on: on, message: message, retryAfter: retryAfter, historyLine: history)
            else { return "no traffic switch" }
            if case .failure(let why) = await transport.runScript(host, cmd) { return why.message }
            return await visible(on: on, host: host)
        }
        let failed = hosts.filter { results[$0] != nil && results[$0]! != nil }
        for h in hosts {
            let why = results[h] ?? nil
            await recorder?.host(
                LedgerHostState(
                    host: h, step: why == nil ? nil : "maintenance", status: why == nil ? nil : "failed", error: why))
        }
        await recorder?.change {
            $0.state = failed.isEmpty ? "succeeded" : "failed"
            $0.outcome = failed.isEmpty ? .succeeded : .failed
            $0.finishedAt = Date()
            $0.error = failed.isEmpty ? nil : "\(failed.count) host(s) failed: \(failed.joined(separator: ", "))"
        }
        return results
    }
}
