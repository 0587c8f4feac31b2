import FoundationEssentials

/// The incident note `triage` pre-fills: what the machine knows (start, scope, error, recent
/// change, rollback) and empty sections for what only people know.
public enum IncidentNote {
    public static func markdown(_ r: TriageReport) -> String {
        let layer = r.firstFailingLayer?.rawValue ?? "none"
        let affected = r.affectedHosts
        var lines: [String] = []
        lines.append(
            "# Incident: \(r.app)\(r.stage.map { " (\($0))" } ?? "") — \(r.firstFailingLayer.map { "\($0.rawValue) failure" } ?? "no failing layer found")"
        )
        lines.append("")
        lines.append("- **Started (UTC):** \(UTCTime.short(r.time)) (triage run; adjust to when impact began)")
        lines.append(
            "- **Affected hosts:** \(affected.isEmpty ? "none found" : affected.joined(separator: ", ")) of \(r.hosts.count)"
        )
        lines.append("- **First failing layer:** \(layer)")
        let checks = Array(Set(r.findings.map { "\($0.layer.rawValue)/\($0.check)" })).sorted()
        lines.append("- **Failing checks:** \(checks.isEmpty ? "none" : checks.joined(separator: ", "))")
        if let f = r.findings.first(where: { $0.layer == r.firstFailingLayer }) {
            lines.append("- **Error seen:** \(f.host): \(f.detail)")
        } else {
            lines.append("- **Error seen:** none")
        }
        if let id = r.likelyChange, let e = r.changes.entries.first(where: { $0.attempt == id }) {
            var change =
                "\(e.operation) of \(e.release) at \(UTCTime.short(e.time)) by \(e.by), \(e.outcome) [attempt \(e.attempt)]"
            if e.configOnly { change += "; config-only release (same code)" }
            if !e.configChanges.isEmpty { change += "; config: \(e.configChanges.joined(separator: "; "))" }
            if !e.migrations.isEmpty { change += "; migrations: \(e.migrations.joined(separator: ", "))" }
            lines.append("- **Recent change (most likely related):** \(change)")
        } else {
            lines.append("- **Recent change (most likely related):** none since \(UTCTime.short(r.since))")
        }
        let rb = r.rollback
        lines.append(
            "- **Rollback available:** \(rb.available ? "yes" : "no")\(rb.target.map { " → \($0)" } ?? "")\(rb.available ? (rb.safe ? " (safe)" : " (NOT safe)") : ""): \(rb.why)"
        )
        if let c = rb.command, rb.available { lines.append("- **Rollback command:** `\(c)`") }
        lines.append("")
        lines.append("## Findings")
        lines.append("")
        if r.findings.isEmpty { lines.append("No check failed.") }
        for f in r.findings { lines.append("- \(f.host) [\(f.layer.rawValue)/\(f.check)]: \(f.detail)") }
        lines.append("")
        lines.append("## Recent changes since \(UTCTime.short(r.since))")
        lines.append("")
        if r.changes.entries.isEmpty { lines.append("None recorded.") }
        for e in r.changes.entries.suffix(10) {
            lines.append(
                "- \(UTCTime.short(e.time)) \(e.operation) \(e.release) — \(e.outcome), by \(e.by)\(e.attempt == r.likelyChange ? " ← most likely related" : "")"
            )
        }
        lines.append("")
        lines.append("## Errors in the logs since \(UTCTime.short(r.since))")
        lines.append("")
        if r.logErrors.isEmpty { lines.append("No error line (`logs.errors`) on any host.") }
        for (host, found) in r.logErrors.sorted(by: { $0.key < $1.key }) {
            lines.append("- \(host): \(found.count) newest error line(s)")
            for l in found { lines.append("  - `\(l.text.replacing("`", with: "'"))`") }
        }
        for (host, notes) in r.logNotes.sorted(by: { $0.key < $1.key }) {
            for n in notes { lines.append("- \(host): \(n)") }
        }
        for section in [
            "Impact", "Timeline", "Decision (fix forward or roll back) and why", "Follow-ups and guardrails",
        ] {
            lines += ["", "## \(section)", "", "_to be filled in_"]
        }
        return lines.joined(separator: "\n") + "\n"
    }
}
