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
        var lastCode: String?
        var fill = SecretFill()
        var last = configBefore.flatMap { configs[$0] }
        if let last { fill.learn(last, release: nil) }
        for a in attempts {
            var changes: [String] = []
            let current = configs[a.configHash].map { fill.filled($0, release: a.releaseID) }
            // Compared after the fill: the same recorded config can stand for another one (a
            // rollback's secrets are its release's). Without either in the ledger, the hashes tell.
            if lastHash != nil, last != current || (last == nil && lastHash != a.configHash) {
                changes = diff(last, current)
            }
            if let current { fill.learn(current, release: a.releaseID) }
            last = current
            lastHash = a.configHash
            let code = codeIdentity(a)
            let configOnly = a.operation == "deploy" && !changes.isEmpty && code != nil && code == lastCode
            if a.operation == "deploy" { lastCode = code }
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
            out[out.count - 1].configOnly = configOnly
        }
        let recorded = Set(attempts.map(\.id))
        out += fromHosts(history, skipping: recorded, app: app, stage: stage).filter { e in
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
    /// What a release's code is: the image digest, or the artifact's hash in a symlink release id
    /// (`<time>-<sha256 prefix>`).
    static func codeIdentity(_ a: LedgerAttempt) -> String? {
        if let d = a.imageDigest { return d }
        guard let dash = a.releaseID.lastIndex(of: "-") else { return nil }
        let hash = a.releaseID[a.releaseID.index(after: dash)...]
        return hash.count == 8 && hash.allSatisfy(\.isHexDigit) ? String(hash) : nil
    }

    static func isSecretFingerprint(_ key: String) -> Bool { key.hasPrefix("secrets.") && key.hasSuffix(".value") }

    /// The secrets' fingerprints a run records only when it resolves them (a deploy): a run that
    /// resolved none (a rollback) gets those of the deploy of the release it runs, or else the
    /// newest known, so a rollback shows the secrets it brought back and nothing else.
    struct SecretFill {
        var known: [String: String] = [:]
        var byRelease: [String: [String: String]] = [:]

        func filled(_ config: [String: String], release: String) -> [String: String] {
            TimelineBuilder.filled(config, byRelease[release] ?? known)
        }

        mutating func learn(_ config: [String: String], release: String?) {
            let fps = config.filter { TimelineBuilder.isSecretFingerprint($0.key) }
            guard !fps.isEmpty else { return }
            known = fps
            if let release { byRelease[release] = fps }
        }
    }

    /// `config` with the fingerprints `known` for secrets it names but did not resolve.
    static func filled(_ config: [String: String], _ known: [String: String]) -> [String: String] {
        var c = config
        for (k, v) in known where c[k] == nil {
            let prefix = String(k.dropLast("value".count))
            if c.keys.contains(where: { $0.hasPrefix(prefix) }) { c[k] = v }
        }
        return c
    }

    /// A secret's fingerprint as a change: its name and what happened, never a value.
    static func secretChange(_ key: String, _ old: String?, _ new: String?) -> String? {
        let name = key.dropFirst("secrets.".count).dropLast(".value".count)
        switch (old, new) {
        case (let o?, let n?) where o != n: return "secret \(name) changed"
        case (nil, _?): return "secret \(name) added"
        case (_?, nil): return "secret \(name) removed"
        default: return nil
        }
    }

    public static func diff(_ old: [String: String]?, _ new: [String: String]?) -> [String] {
        guard let old = old.map({ Redactor.standard.redact(settings: $0) }),
            let new = new.map({ Redactor.standard.redact(settings: $0) })
        else {
            return ["config changed (details not in the ledger)"]
        }
        var lines: [String] = []
        for k in Set(old.keys).union(new.keys).sorted() {
            if isSecretFingerprint(k) {
                if let line = secretChange(k, old[k], new[k]) { lines.append(line) }
                continue
            }
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
