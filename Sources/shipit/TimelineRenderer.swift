import FoundationEssentials
import ShipitCore

/// `shipit changes` as text: one block per attempt, newest last, everything in UTC.
enum TimelineRenderer {
    static func print(_ t: Timeline) {
        // One write at the end: thousands of entries must not cost thousands of syscalls.
        var lines: [String] = []
        defer { Console.shared.out(lines.joined(separator: "\n")) }
        let window = "\(t.from.map(UTCTime.short) ?? "the beginning") to \(t.to.map(UTCTime.short) ?? "now")"
        let answered = t.hostStatus.values.filter { $0 == "ok" }.count
        let hostsPart =
            t.hostStatus.values.allSatisfy({ $0 == "not asked" })
            ? "hosts not asked" : "\(answered)/\(t.hostStatus.count) hosts answered"
        lines.append("Changes to \(t.app) from \(window) (ledger: \(t.ledgerStatus); \(hostsPart))")
        for n in t.notes { lines.append("note: \(n)") }
        if t.entries.isEmpty { lines.append("no changes in this window") }
        for e in t.entries {
            lines.append("")
            let outcome = e.outcome == "succeeded" ? e.outcome : e.outcome.uppercased()
            lines.append(
                "\(UTCTime.short(e.time))  \(e.operation) \(e.release.isEmpty ? "(no release chosen)" : e.release)  \(outcome)  by \(e.by)  [attempt \(e.attempt)\(e.origin == "hosts" ? ", from host history" : "")]"
            )
            if let link = e.ci["GITHUB_RUN_URL"] ?? e.ci["CI_JOB_URL"] ?? e.ci["BUILDKITE_BUILD_URL"]
                ?? e.ci["BUILD_URL"]
            {
                lines.append("    ci: \(link)")
            }
            if let s = e.source {
                lines.append(
                    "    source: \(s)\(e.ref.map { " \($0)" } ?? "")\(e.commit.map { " (commit \($0.prefix(12)))" } ?? "")"
                )
            }
            if let n = e.changedCount {
                let list = e.changedFiles.prefix(8).joined(separator: ", ")
                lines.append(
                    "    files: \(n) changed\(list.isEmpty ? "" : ": \(list)")\(e.changedFiles.count > 8 || n > e.changedFiles.count ? ", …" : "")"
                )
            }
            if e.configOnly { lines.append("    config-only release: the same code as the deploy before it") }
            for c in e.configChanges { lines.append("    config: \(c)") }
            if let d = e.imageDigest { lines.append("    image: \(d)") }
            for m in e.migrations { lines.append("    migration: \(m)") }
            for r in e.rollout { lines.append("    rollout: \(r)") }
            for h in e.hosts {
                var line = "    \(h.host): "
                if h.previous == h.current {
                    line += "\(e.outcome == "succeeded" ? "stayed on" : "on") \(h.current ?? "(none)")"
                } else {
                    line += "\(h.previous ?? "(none)") → \(h.current ?? "(none)")"
                }
                if let slot = h.slot { line += "  [slot \(slot)\(h.standby.map { ", warm standby \($0)" } ?? "")]" }
                if let step = h.rolloutStep {
                    line +=
                        h.switchedAt.map { "  [step \(step), switched \(UTCTime.short($0))]" }
                        ?? "  [step \(step), not started]"
                }
                if let step = h.step, h.status != "ok" || e.outcome != "succeeded" {
                    line += "  last step \(step) \(h.status ?? "")"
                }
                if let err = h.error { line += ": \(err)" }
                lines.append(line)
            }
            if let err = e.error { lines.append("    error: \(err)") }
            if let f = e.finished {
                lines.append("    finished \(UTCTime.short(f)) (\(Console.seconds(f.timeIntervalSince(e.time))))")
            }
        }
        if let last = t.entries.last(where: { $0.origin != "hosts" }) {
            lines.append("")
            lines.append(
                "A picture of a run (hosts on a time axis, gates, the failure): shipit report --attempt \(last.attempt) --html report.html"
            )
        }
    }
}
