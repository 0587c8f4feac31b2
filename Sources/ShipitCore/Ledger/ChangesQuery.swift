import Foundation

/// `shipit changes`: the ledger's attempts in a window, merged with the history each host keeps,
/// into one `Timeline`. Works with the ledger alone, the hosts alone, or both, and says which.
public struct ChangesQuery: Sendable {
    public var from: Date?
    public var to: Date?
    public var host: String?
    public var askHosts = true

    public init(from: Date? = nil, to: Date? = nil, host: String? = nil, askHosts: Bool = true) {
        self.from = from
        self.to = to
        self.host = host
        self.askHosts = askHosts
    }

    public func run(config: DeployConfig, ledger: Ledger?, ledgerStatus: String, transport: HostTransport) async -> Timeline {
        var notes: [String] = []
        var status = ledgerStatus
        var attempts: [LedgerAttempt] = []
        var configs: [String: [String: String]] = [:]
        var before: String?
        if let ledger {
            do {
                attempts = try await ledger.attempts(LedgerQuery(from: from, to: to, app: config.app, stage: .some(config.stage), host: host))
                if let from {
                    before = try await ledger.attempts(LedgerQuery(to: from, app: config.app, stage: .some(config.stage), limit: 1)).last?.configHash
                }
                var hashes = Set(attempts.map(\.configHash))
                if let before { hashes.insert(before) }
                // Only hashes where the config changed need their settings read.
                for h in hashes where hashes.count > 1 { configs[h] = try await ledger.config(hash: h) }
            } catch {
                status = "unreadable: \(error)"
                attempts = []
            }
        }
        switch status {
        case "ok": break
        case "missing": notes.append("no ledger at \(config.ledgerPath): this timeline comes from the hosts' history alone (runs that failed before switching any host are not in it)")
        default: notes.append("the ledger \(config.ledgerPath) is \(status): this timeline comes from the hosts' history alone")
        }

        var hostStatus: [String: String] = [:]
        var history: [String: [HostHistory.Entry]] = [:]
        let hosts = host.map { [$0] } ?? config.hosts
        if askHosts {
            var c = config
            c.hosts = hosts
            let result = await FleetInspector(config: c, transport: transport).inspect(.init(historyLines: HostHistory.readLimit))
            for h in result.hosts {
                hostStatus[h.host] = h.reachable ? "ok" : "unreachable: \(h.error ?? "?")"
                if !h.reachable { notes.append("\(h.host) is unreachable: its history is missing from this timeline") }
            }
            history = result.history
        } else {
            for h in hosts { hostStatus[h] = "not asked" }
        }
        let entries = TimelineBuilder.entries(attempts: attempts, configs: configs, configBefore: before, history: history,
                                              from: from, to: to, app: config.app, stage: config.stage)
        return Timeline(from: from, to: to, app: config.app, ledger: config.ledgerPath, ledgerStatus: status,
                        hostStatus: hostStatus, notes: notes, entries: entries)
    }
}
