import FoundationEssentials
import SSH

/// What a pipeline gets from a deploy or rollback's report: annotations for every failed host and
/// for the outcome, a Markdown summary (outcome, release, each host before → after, changed
/// files, the rollback command), and the step outputs `release`, `outcome`, `previous_release`.
public struct CISummary: Sendable {
    public let report: DeployReport
    /// `shipit rollback --config …` for this config.
    public let rollbackCommand: String

    /// The run's phases and steps as a Mermaid chart (`RunGantt`), or "".
    public let chart: String

    public init(report: DeployReport, rollbackCommand: String, chart: String = "") {
        self.report = report
        self.rollbackCommand = rollbackCommand
        self.chart = chart
    }

    /// The release most hosts ran before.
    public var previousRelease: String { DeployReport.commonPrevious(report.hosts) ?? "" }

    public var outputs: [(String, String)] {
        [
            ("release", report.releaseID), ("outcome", report.outcome.rawValue), ("previous_release", previousRelease),
            ("exit_code", String(report.exitCode.rawValue)), ("attempt", report.attemptID ?? ""),
            ("skipped_hosts", report.skipped.map(\.host).joined(separator: ",")),
        ]
    }

    /// `name=value` lines (GitHub's `$GITHUB_OUTPUT` and a GitLab dotenv report read the same).
    public var outputLines: String {
        outputs.map { "\($0.0)=\($0.1.replacing("\n", with: " "))" }.joined(separator: "\n") + "\n"
    }

    public var dotenvLines: String {
        outputs.map { "SHIPIT_\($0.0.uppercased())=\($0.1.replacing("\n", with: " "))" }.joined(separator: "\n") + "\n"
    }

    public var succeeded: Bool { report.exitCode == .success || report.exitCode == .partial }

    /// `::error`/`::warning` lines: one per failed host, then the outcome.
    public var githubAnnotations: [String] {
        var lines: [String] = []
        for h in report.hosts where h.failedStep != nil {
            lines.append(
                CIPlatform.githubCommand(
                    "error", title: "shipit \(report.operation): \(h.host) failed at \(h.failedStep!)",
                    h.error ?? "failed"))
        }
        let headline =
            "\(report.operation) of \(report.app) \(report.releaseID): \(report.outcome.rawValue) (exit \(report.exitCode.rawValue))"
        for s in report.skipped {
            lines.append(
                CIPlatform.githubCommand("warning", title: "shipit \(report.operation): \(s.host) skipped", s.error))
        }
        switch report.phase {
        case .succeeded, .paused: break
        case .rolledBack:
            lines.append(
                CIPlatform.githubCommand(
                    "warning", title: "shipit: rolled back",
                    "\(headline); every switched host is back on \(previousRelease)"))
            lines.append(CIPlatform.githubCommand("error", title: "shipit \(report.operation) failed", headline))
        default:
            lines.append(
                CIPlatform.githubCommand(
                    "error", title: "shipit \(report.operation) failed",
                    headline + (report.summaryError.map { ": \($0)" } ?? "")))
        }
        return lines
    }

    public var markdown: String {
        let icon = succeeded ? "✅" : report.phase == .rolledBack ? "↩️" : "❌"
        var md = ["### \(icon) shipit \(report.operation) of `\(report.app)`: **\(report.outcome.rawValue)**", ""]
        md.append("| | |")
        md.append("|---|---|")
        md.append("| release | `\(report.releaseID)` |")
        md.append("| previous release | `\(previousRelease.isEmpty ? "(none)" : previousRelease)` |")
        md.append("| exit code | \(report.exitCode.rawValue) |")
        md.append("| duration | \(String(cFormat: "%.1f", report.seconds)) s |")
        if let a = report.attemptID { md.append("| ledger attempt | `\(a)` |") }
        if let e = report.summaryError { md.append("| error | \(Self.cell(e)) |") }
        md += ["", "| host | before | after | result |", "|---|---|---|---|"]
        for h in report.hosts {
            let result =
                h.failedStep.map { "failed at \($0): \(Self.cell(h.error ?? ""))" }
                ?? (h.current == report.releaseID && h.previous != h.current ? "switched" : "unchanged")
            md.append("| \(h.host) | `\(h.previous ?? "(none)")` | `\(h.current ?? "(none)")` | \(result) |")
        }
        for s in report.skipped { md.append("| \(s.host) | | | \(Self.cell(s.error)) |") }
        if let requests = report.rollout?.requests, !requests.isEmpty {
            md += [
                "", "Request steps (the proxy's records of both releases):", "",
                "| step | share | release | requests | 5xx | p50 | p95 | p99 | verdict |",
                "|---|---|---|---|---|---|---|---|---|",
            ]
            func ms(_ v: Double?) -> String { v.map { String(cFormat: "%.1f ms", $0) } ?? "–" }
            for c in requests {
                for (r, verdict) in [(c.canary, c.verdict), (c.baseline, "baseline")] {
                    md.append(
                        "| \(c.step) | \(c.share) % | `\(r.release)` | \(r.requests) | \(String(cFormat: "%.2f", r.errorRatio * 100)) % | \(ms(r.p50)) | \(ms(r.p95)) | \(ms(r.p99)) | \(Self.cell(verdict == "fail" ? "fail: " + c.reasons.joined(separator: "; ") : verdict)) |"
                    )
                }
            }
        }
        if !report.changedFiles.isEmpty {
            md += ["", "<details><summary>\(report.changedFiles.count) changed file(s)</summary>", "", "```"]
            md += report.changedFiles.prefix(200)
            md += ["```", "</details>"]
        }
        if !report.configChanges.isEmpty {
            md += ["", "Config changes:", ""]
            md += report.configChanges.map { "- `\($0)`" }
        }
        if !chart.isEmpty { md += ["", chart] }
        md += ["", "Roll back: `\(rollbackCommand)`", ""]
        return md.joined(separator: "\n")
    }

    static func cell(_ s: String) -> String { s.replacing("|", with: "\\|").replacing("\n", with: " ") }
}
