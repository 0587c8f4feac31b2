import FoundationEssentials

extension Triage {
    /// Hosts not on the fleet's release — the release of the last successful deploy or rollback
    /// in the ledger — and hosts a run left out as unreachable: each a `release` finding with the
    /// command that brings it in line. One that is still down keeps its network finding, told it
    /// was skipped.
    func releaseFindings(rows: [TriageReport.HostRow], findings: inout [TriageReport.Finding]) async {
        guard let ledger,
            let attempts = try? await ledger.attempts(LedgerQuery(app: config.app, stage: .some(config.stage))),
            let fleet = attempts.last(where: { $0.outcome == .succeeded && !$0.releaseID.isEmpty })
        else { return }
        let sync = "shipit sync --config \(config.file)\(config.stage.map { " --stage \($0)" } ?? "")"
        // The newest run that left each host out, if no later run reached it.
        var skipped: [String: (LedgerAttempt, String)] = [:]
        for a in attempts {
            for h in a.hosts {
                if h.status == "skipped" { skipped[h.host] = (a, h.error ?? "unreachable") } else { skipped[h.host] = nil }
            }
        }
        func skipNote(_ host: String) -> String {
            guard let (a, why) = skipped[host] else { return "" }
            return "; left out of the \(a.operation) of \(a.releaseID) at \(UTCTime.short(a.startedAt)) (\(why))"
        }
        for row in rows {
            if !row.reachable {
                guard skipped[row.host] != nil, let i = findings.firstIndex(where: { $0.host == row.host }) else {
                    continue
                }
                findings[i].detail += redactor.redact(skipNote(row.host) + ": once it is back, \(sync) brings it in line")
                continue
            }
            guard let release = row.release, release != fleet.releaseID else { continue }
            findings.append(
                .init(
                    host: row.host, layer: .release, check: "drift",
                    detail: redactor.redact(
                        "runs \(release), not the fleet's release \(fleet.releaseID) (its last successful deploy or rollback)\(skipNote(row.host)): \(sync) brings it in line"
                    )))
        }
    }
}
