import FoundationEssentials

extension Triage {
    /// Hosts not on the fleet's release — the release of the last successful deploy or rollback
    /// in the ledger — and hosts a run left out as unreachable: each a `release` finding with the
    /// command that brings it in line. One that is still down keeps its network finding, told it
    /// was skipped. Nothing while a run holds the fleet or a rollout is paused: hosts are on two
    /// releases then on purpose, and `rollout promote|abort` is the way on.
    func releaseFindings(rows: [TriageReport.HostRow], findings: inout [TriageReport.Finding]) async {
        guard let ledger,
            let attempts = try? await ledger.attempts(LedgerQuery(app: config.app, stage: .some(config.stage))),
            let fleet = SyncPlan.fleetAttempt(attempts)
        else { return }
        let runs = attempts.filter { DeployOperation(rawValue: $0.operation) != nil }
        if let newest = runs.last, newest.outcome == .running || newest.outcome == .paused { return }
        let known = SyncPlan.knownReleases(attempts)
        let stage = config.stage.map { " --stage \($0)" } ?? ""
        let sync = "shipit sync --config \(config.file)\(stage)"
        // The newest run that left each host out, if no later run reached it.
        var skipped: [String: (LedgerAttempt, String)] = [:]
        for a in runs {
            for h in a.hosts {
                if h.status == "skipped" {
                    skipped[h.host] = (a, h.error ?? "unreachable")
                } else {
                    skipped[h.host] = nil
                }
            }
        }
        func skipNote(_ host: String) -> String {
            guard let (a, why) = skipped[host] else { return "" }
            return "; left out of the \(a.operation) of \(a.releaseID) at \(UTCTime.short(a.startedAt)) (\(why))"
        }
        for row in rows {
            if !row.reachable {
                guard let (a, _) = skipped[row.host], let i = findings.firstIndex(where: { $0.host == row.host }) else {
                    continue
                }
                // A run that succeeded without it moved the fleet on: the host will need the sync.
                let advice = a.outcome == .succeeded ? ": once it is back, \(sync) brings it in line" : ""
                findings[i].detail += redactor.redact(skipNote(row.host) + advice)
                continue
            }
            guard let release = row.release, release != fleet.releaseID else { continue }
            let fix =
                known.contains(release)
                ? "\(sync) brings it in line"
                : "a release the ledger never recorded (changed by hand?): \(sync) --force replaces it"
            findings.append(
                .init(
                    host: row.host, layer: .release, check: "drift",
                    detail: redactor.redact(
                        "runs \(release), not the fleet's release \(fleet.releaseID) (its last successful deploy or rollback)\(skipNote(row.host)): \(fix)"
                    )))
        }
    }
}
