import ArgumentParser
import FoundationEssentials
import ShipitCore
import ShipitSupport

struct StatsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "stats",
        abstract:
            "Deployment frequency, change failure rate, time to restore, lead time and durations, from the ledger.",
        discussion: """
            The four DORA figures for this app and stage over a window (default 30d), computed from the
            recorded attempts alone (docs/ci.md says how each is counted). Lead time needs the deployed
            commits' times: read with git from the repository in the current directory when there is one.
            """
    )

    @OptionGroup var common: ConfigOptions

    @Option(name: .long, help: ArgumentHelp("How far back: 7d, 30d, 12w.", valueName: "duration"))
    var since: String = "30d"

    func run() async throws {
        let (start, _) = try UTCTime.window(since: since, from: nil, to: nil)
        let config = try common.load()
        let now = Date()
        let from = start ?? now.addingTimeInterval(-30 * 86400)
        let (ledger, status) = await LedgerAccess.forReading(config)
        guard let ledger else { throw ShipitError("no ledger to read (\(status))") }
        let samples = try await ledger.samples(
            LedgerQuery(from: from, to: now, app: config.app, stage: .some(config.stage)))
        let stats = DeployStats.compute(
            samples, from: from, to: now, commitTimes: Self.commitTimes(Set(samples.compactMap(\.commit))))
        if common.json { return JSONOutput.print(stats) }
        Console.shared.out(Self.render(stats, app: config.app, stage: config.stage))
    }

    /// Commit times from the git repository here (none when there is no repository).
    static func commitTimes(_ commits: Set<String>) -> [String: Date] {
        let valid = commits.filter { $0.count >= 7 && $0.count <= 64 && $0.allSatisfy(\.isHexDigit) }.sorted().prefix(
            2000)
        guard !valid.isEmpty,
            FileManager.default.fileExists(atPath: ".git")
                || (try? LocalProcess.run(["git", "rev-parse", "--git-dir"])) != nil,
            let out = try? LocalProcess.run(["git", "show", "-s", "--format=%H %ct"] + valid)
        else { return [:] }
        var times: [String: Date] = [:]
        for line in out.split(separator: "\n") {
            let p = line.split(separator: " ")
            if p.count == 2, let t = Double(p[1]) { times[String(p[0])] = Date(timeIntervalSince1970: t) }
        }
        return times
    }

    static func render(_ s: DeployStats, app: String, stage: String?) -> String {
        func dur(_ v: Double?) -> String {
            guard let v else { return "n/a" }
            if v < 120 { return String(cFormat: "%.1f s", v) }
            if v < 7200 { return String(cFormat: "%.0f min", v / 60) }
            if v < 172800 { return String(cFormat: "%.1f h", v / 3600) }
            return String(cFormat: "%.1f d", v / 86400)
        }
        func spread(_ x: DeployStats.Spread) -> String {
            x.count == 0 ? "n/a" : "median \(dur(x.p50)), p95 \(dur(x.p95)) (\(x.count))"
        }
        var lines = [
            "\(app)\(stage.map { " (\($0))" } ?? ""): \(UTCTime.short(s.from)) to \(UTCTime.short(s.to)), \(String(cFormat: "%.1f", s.days)) days"
        ]
        lines.append(
            "  deployment frequency  \(String(cFormat: "%.2f", s.deploymentsPerDay)) per day (\(s.succeeded) successful deploys)"
        )
        lines.append(
            "  change failure rate   \(s.changeFailureRate.map { String(cFormat: "%.1f %%", $0 * 100) } ?? "n/a") (\(s.failedChanges) of \(s.changes) changes; \(s.stoppedBeforeSwitch) stopped before any switch, not counted)"
        )
        lines.append("  time to restore       \(spread(s.timeToRestore))")
        lines.append("  lead time             \(spread(s.leadTime))")
        lines.append(
            "  deploy duration       \(s.duration.count == 0 ? "n/a" : "p50 \(dur(s.duration.p50)), p95 \(dur(s.duration.p95))")"
        )
        lines.append("  rollbacks (manual)    \(s.rollbacks)")
        let recent = s.perDay.suffix(14)
        if !recent.isEmpty {
            lines.append("")
            lines.append("  deploys per day (■ succeeded, × failed)")
            let widest = recent.map { $0.succeeded + $0.failed }.max() ?? 1
            let scale = widest > 50 ? Double(50) / Double(widest) : 1
            for d in recent {
                let ok = String(repeating: "■", count: Int((Double(d.succeeded) * scale).rounded(.up)))
                let bad = String(repeating: "×", count: Int((Double(d.failed) * scale).rounded(.up)))
                lines.append("  \(d.day)  \(ok)\(bad) \(d.succeeded + d.failed)")
            }
        }
        return lines.joined(separator: "\n")
    }
}
