import FoundationEssentials

/// Builds a `Timeline`: ledger attempts first (the full record), then attempts that only the
/// hosts' history knows (a ledger deleted, or runs from another machine), sorted by start time.
public enum TimelineBuilder {
    public static func entries(
        attempts: [LedgerAttempt], configs: [String: [String: String]], configBefore: String?,
        history: [String: [HostHistory.Entry]], from: Date?, to: Date?, app: String, stage: String?
    ) -> [Timeline.Entry] {
        var out: [Timeline.Entry] = []
        var lastHash = configBefore
        let seen = Set(history.values.flatMap { $0.map(\.attempt) })
        for a in attempts {
            var changes: [String] = []
            if let prev = lastHash, prev != a.configHash {
                changes = diff(configs[prev], configs[a.configHash])
            }
            lastHash = a.configHash
            out.append(
                Timeline.Entry(
                    time: a.startedAt, finished: a.finishedAt, attempt: a.id, operation: a.operation, app: a.app,
                    stage: a.stage,
                    release: a.releaseID, outcome: a.outcome.rawValue, state: a.state, by: "\(a.user)@\(a.machine)",
                    ci: a.ci,
                    source: a.source, commit: a.commit, ref: a.ref, error: a.error, changedCount: a.changedCount,
                    changedFiles: a.changedFiles, configHash: a.configHash, configChanges: changes,
                    imageDigest: a.imageDigest,
                    migrations: a.migrations,
                    hosts: a.hosts,
                    origin: seen.contains(a.id) ? "ledger+hosts" : "ledger"))
        }
        let known = Set(attempts.map(\.id))
        out += fromHosts(history, skipping: known, app: app, stage: stage).filter { e in
            (from.map { e.time >= $0 } ?? true) && (to.map { e.time < $0 } ?? true)
        }
        return out.sorted { ($0.time, $0.attempt) < ($1.time, $1.attempt) }
    }

    /// Attempts reconstructed from host history lines, grouped by attempt id.
    static func fromHosts(
        _ history: [String: [HostHistory.Entry]], skipping known: Set<String>, app: String, stage: String?
    ) -> [Timeline.Entry] {
        var byAttempt: [String: [(host: String, entry: HostHistory.Entry)]] = [:]
        for (host, entries) in history {
            for e in entries
            where !e.attempt.isEmpty && !known.contains(e.attempt) && e.app == app
                && (e.stage == nil || e.stage == stage)
            {
                byAttempt[e.attempt, default: []].append((host, e))
            }
        }
        return byAttempt.map { id, events in
            let sorted = events.sorted { $0.entry.time < $1.entry.time }
            let switches = sorted.filter { $0.entry.event != "outcome" }
            let first = switches.first?.entry ?? sorted[0].entry
            let operation = switches.contains { $0.entry.event == "rollback" } ? "rollback" : "deploy"
            let outcome =
                sorted.last { $0.entry.event == "outcome" }?.entry.outcome
                ?? (switches.contains { $0.entry.event == "auto-rollback" } ? "rolled-back" : "unknown")
            var hosts: [String: Timeline.Host] = [:]
            for (host, e) in sorted where e.event != "outcome" {
                var h = hosts[host] ?? Timeline.Host(host: host, previous: e.previous)
                h.current = e.release
                h.step = e.event
                hosts[host] = h
            }
            return Timeline.Entry(
                time: first.time, finished: sorted.last?.entry.time, attempt: id, operation: operation, app: first.app,
                stage: first.stage, release: first.release, outcome: outcome, state: nil, by: first.by, ci: [:],
                source: nil,
                commit: nil, ref: nil, error: nil, changedCount: nil, changedFiles: [], configHash: nil,
                configChanges: [],
                imageDigest: nil, migrations: [], hosts: hosts.values.sorted { $0.host < $1.host }, origin: "hosts")
        }
    }

    /// `key: old → new`, `+key = new`, `-key` lines between two flattened configs, redacted again
    /// here: a ledger written by an older shipit may hold values today's rules hide.
    public static func diff(_ old: [String: String]?, _ new: [String: String]?) -> [String] {
        guard let old = old.map({ Redactor.standard.redact(settings: $0) }),
            let new = new.map({ Redactor.standard.redact(settings: $0) })
        else {
            return ["config changed (details not in the ledger)"]
        }
        var lines: [String] = []
        for k in Set(old.keys).union(new.keys).sorted() {
            switch (old[k], new[k]) {
            case (let o?, let n?) where o != n: lines.append("\(k): \(o) → \(n)")
            case (nil, let n?): lines.append("+\(k) = \(n)")
            case (_?, nil): lines.append("-\(k)")
            default: break
            }
        }
        return lines.isEmpty ? ["a redacted (secret) setting changed"] : lines
    }
}
