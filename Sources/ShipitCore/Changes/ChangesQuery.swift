import FoundationEssentials

/// `shipit changes`: the ledger's attempts in a window, merged with the history each host keeps,
/// into one `Timeline`. Works with the ledger alone, the hosts alone, or both, and says which.
public struct ChangesQuery: Sendable {
    public var from: Date?
    public var to: Date?
    public var host: String?
    public var askHosts = true
    /// The newest entries shown (0 = all): a busy month holds thousands of attempts.
    public var limit = ChangesQuery.defaultLimit
    public static let defaultLimit = 200

    public init(
        from: Date? = nil, to: Date? = nil, host: String? = nil, askHosts: Bool = true,
        limit: Int = ChangesQuery.defaultLimit
    ) {
        self.from = from
        self.to = to
        self.host = host
        self.askHosts = askHosts
        self.limit = limit
    }

    /// `history`/`hostStatus`: host history a caller already fetched (triage's probe brings it back
    /// in the same exec); the hosts are then not asked again.
    public func run(
        config: DeployConfig, ledger: Ledger?, ledgerStatus: String, transport: HostTransport,
        history given: [String: [HostHistory.Entry]]? = nil, hostStatus givenStatus: [String: String]? = nil
    ) async -> Timeline {
        var notes: [String] = []
        var status = ledgerStatus
        var attempts: [LedgerAttempt] = []
        var configs: [String: [String: String]] = [:]
        var before: String?
        var ledgerTotal = 0
        if let ledger {
            do {
                let window = LedgerQuery(
                    from: from, to: to, app: config.app, stage: .some(config.stage), host: host,
                    limit: limit > 0 ? limit : nil)
                attempts = try await ledger.attempts(window)
                ledgerTotal =
                    attempts.count < (window.limit ?? Int.max) ? attempts.count : try await ledger.count(window)
                // The config of the attempt just before the first one shown, to diff against.
                if let first = attempts.first {
                    before = try await ledger.attempts(
                        LedgerQuery(to: first.startedAt, app: config.app, stage: .some(config.stage), limit: 1)
                    ).last?.configHash
                }
                var hashes = Set(attempts.map(\.configHash))
                if let before { hashes.insert(before) }
                // One config throughout: no diff to show, nothing more to read.
                if hashes.count > 1 { configs = try await ledger.configs(hashes: Array(hashes)) }
            } catch {
                status = "unreadable: \(error)"
                attempts = []
            }
        }
        switch status {
        case "ok": break
        case "missing":
            notes.append(
                "no ledger at \(config.ledgerPath): this timeline comes from the hosts' history alone (runs that failed before switching any host are not in it)"
            )
        default:
            notes.append(
                "the ledger \(config.ledgerPath) is \(status): this timeline comes from the hosts' history alone (runs that failed before switching any host are not in it)"
            )
        }

        var hostStatus: [String: String] = [:]
        var history: [String: [HostHistory.Entry]] = [:]
        let hosts = host.map { [$0] } ?? config.hosts
        if let given {
            history = given
            hostStatus = givenStatus ?? [:]
            for (h, st) in hostStatus.sorted(by: { $0.key < $1.key }) where st != "ok" {
                notes.append("\(h) is unreachable: its history is missing from this timeline")
            }
        } else if askHosts {
            var c = config
            c.hosts = hosts
            let result = await FleetInspector(config: c, transport: transport).inspect(
                .init(historyLines: HostHistory.readLimit))
            for h in result.hosts {
                hostStatus[h.host] = h.reachable ? "ok" : "unreachable: \(h.error ?? "?")"
                if !h.reachable { notes.append("\(h.host) is unreachable: its history is missing from this timeline") }
            }
            history = result.history
        } else {
            for h in hosts { hostStatus[h] = "not asked" }
        }
        var entries = TimelineBuilder.entries(
            attempts: attempts, configs: configs, configBefore: before, history: history,
            from: from, to: to, app: config.app, stage: config.stage)
        if ledgerTotal > attempts.count, let oldest = attempts.first?.startedAt {
            // The limit cut older ledger attempts: host lines older than the oldest shown belong to
            // those, not to runs the ledger lacks.
            entries = entries.filter { $0.origin != "hosts" || $0.time >= oldest }
        }
        let total = ledgerTotal + entries.filter { $0.origin == "hosts" }.count
        if limit > 0 && entries.count > limit { entries = Array(entries.suffix(limit)) }
        if let ledger {
            for i in entries.indices
            where entries[i].origin != "hosts" && entries[i].hosts.contains(where: { $0.rolloutStep != nil }) {
                let steps = (try? await ledger.steps(attemptID: entries[i].attempt)) ?? []
                entries[i].rollout = Self.rolloutLines(steps)
                entries[i].requests = steps.filter { $0.step == "requests" }.compactMap {
                    $0.message.flatMap(RequestComparison.parse)
                }
            }
        }
        if total > entries.count {
            notes.append("showing the newest \(entries.count) of \(total) changes in this window (--limit 0 shows all)")
        }
        return Timeline(
            from: from, to: to, app: config.app, ledger: config.ledgerPath, ledgerStatus: status,
            hostStatus: hostStatus, notes: notes, total: total, entries: entries)
    }

    /// The rollout's story from the ledger's steps: step events, failed gate samples, and the
    /// count of passed ones.
    static func rolloutLines(_ steps: [LedgerStep]) -> [String] {
        var lines: [String] = []
        var passed = 0
        for s in steps {
            switch (s.step, s.status) {
            case ("rollout", _): lines.append(s.message ?? "")
            case ("gate", "failed"): lines.append("gate FAILED: \(s.message ?? "")")
            case ("gate", _): passed += 1
            default: break
            }
        }
        if passed > 0 { lines.append("\(passed) gate sample(s) passed") }
        return lines
    }
}
