import FoundationEssentials

/// `shipit logs --release ID`: from that release's (latest) switch to the next switch away from
/// it, as the ledger recorded them.
public enum ReleaseWindow {
    public static func find(_ id: String, in attempts: [LedgerAttempt]) -> (since: Date, until: Date?)? {
        let done = attempts.filter { $0.outcome == .succeeded }.sorted { $0.startedAt < $1.startedAt }
        guard let i = done.lastIndex(where: { $0.releaseID == id || $0.releaseID.hasPrefix(id) }) else { return nil }
        func switched(_ a: LedgerAttempt) -> Date { a.hosts.compactMap(\.switchedAt).min() ?? a.startedAt }
        let since = switched(done[i])
        let next = done[(i + 1)...].first { $0.releaseID != done[i].releaseID }
        return (since, next.map(switched))
    }
}
