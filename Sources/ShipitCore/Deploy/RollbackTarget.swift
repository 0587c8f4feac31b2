/// Which release a rollback goes to: with no request, the newest release older than what runs now
/// that is present on *every* host and not marked failed (on a split fleet, the oldest release
/// that runs on some host); a request may name a release, an image
/// tag (the newest release with it) or an image digest. Inventories list releases oldest first.
/// Pure, so `rollback` and `triage` agree.
public enum RollbackTarget {
    public static func choose(
        hosts: [String], requested: String?, inventory: [String: ScriptOutput], currents: [String]
    ) -> (String?, String?) {
        let lists = hosts.map { inventory[$0]?.all(.release) ?? [] }
        let present = lists.map(Set.init)
        let onAll = present.dropFirst().reduce(present.first ?? []) { $0.intersection($1) }
        let order = lists.first ?? []
        if let requested {
            let resolved = resolve(requested, in: order, refs: hosts.first.flatMap { inventory[$0] }) ?? requested
            let missing = hosts.filter { !(inventory[$0]?.all(.release).contains(resolved) ?? false) }
            return missing.isEmpty
                ? (resolved, nil) : (nil, "release \(requested) is not on \(missing.joined(separator: ", "))")
        }
        let failedMarks = Set(hosts.flatMap { inventory[$0]?.all(.failed) ?? [] })
        // A split fleet (a run that died or lost a host mid-switch): undo that run, i.e. bring every
        // host to the oldest release one of them runs, rather than further back.
        let running = Set(currents.filter { !$0.isEmpty })
        if running.count > 1,
            let oldest = running.min(by: { (order.firstIndex(of: $0) ?? .max) < (order.firstIndex(of: $1) ?? .max) }),
            onAll.contains(oldest), !failedMarks.contains(oldest)
        {
            return (oldest, nil)
        }
        let newestIndex = currents.compactMap { order.firstIndex(of: $0) }.max() ?? order.count
        let candidates = order[..<min(newestIndex, order.count)].filter {
            onAll.contains($0) && !failedMarks.contains($0) && !currents.contains($0)
        }
        if let t = candidates.last { return (t, nil) }
        let newest = currents.max { (order.firstIndex(of: $0) ?? -1) < (order.firstIndex(of: $1) ?? -1) }
        return (nil, "no good release older than \(newest ?? "the current one") is present on every host")
    }

    /// `sha256:<64 hex>`: an image digest (a rollback target that is not a release id).
    public static func isDigest(_ s: String) -> Bool {
        s.wholeMatch(of: #/sha256:[0-9a-f]{64}/#) != nil
    }

    /// `v1` → the newest release `v1-<digest12>`; `sha256:…` → the release with that digest.
    static func resolve(_ requested: String, in order: [String], refs: ScriptOutput?) -> String? {
        if order.contains(requested) { return requested }
        if requested.hasPrefix("sha256:") {
            return order.last { refs?.first("ref.\($0)")?.hasSuffix("@" + requested) == true }
        }
        return order.last { ImageStrategy.isRelease($0, ofTag: requested) }
    }

    /// Deploys after the newest successful switch to `target` that applied a contract migration
    /// (and did not fail before applying it): going back past them would run old code against a
    /// schema it cannot use. Read from the ledger; used by `rollback` and by `triage`.
    public static func unsafeReleases(since target: String, ledger: Ledger, app: String, stage: String?) async
        -> [LedgerAttempt]
    {
        guard let recent = try? await ledger.attempts(LedgerQuery(app: app, stage: .some(stage), limit: 500)) else {
            return []
        }
        let since = recent.lastIndex { $0.releaseID == target && $0.outcome == .succeeded } ?? -1
        return recent[(since + 1)...].filter { $0.rollbackUnsafe && $0.operation == "deploy" && $0.outcome != .failed }
    }
}
