import ArgumentParser
import FoundationEssentials
import ShipitCore
import ShipitSupport

struct TriageCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "triage",
        abstract: "The production-debugging playbook on every host at once, with a pre-filled incident note.",
        discussion: """
            Checks, in order: network (SSH), process (release, container, supervised units and their
            restarts, configured process checks), health (live, ready), release (a host not on the fleet's release, and the sync that fixes it), resources (disk, inodes, memory, load,
            open files), dependencies (configured checks), schema. Prints the first failing layer, the recent changes with the one most likely related, and
            whether a rollback is available and safe. Exits 7 when a layer fails.
            """
    )

    @OptionGroup var common: ConfigOptions

    @Option(name: .long, help: ArgumentHelp("How far back to look for changes: 30m, 2h, 1d.", valueName: "duration"))
    var since: String = "2h"

    @Option(name: .long, help: ArgumentHelp("Write the incident note (Markdown) to this file.", valueName: "file"))
    var note: String?

    func run() async throws {
        let (start, _) = try UTCTime.window(since: since, from: nil, to: nil)
        let config = try await common.loadMaskingSecrets()
        let (ledger, status) = await LedgerAccess.forReading(config)
        let report = await withFleet(config) {
            await Triage(config: config, transport: $0, ledger: ledger, ledgerStatus: status, since: start ?? Date())
                .run()
        }
        let markdown = IncidentNote.markdown(report)
        if let note {
            do { try markdown.write(toFile: note, atomically: true, encoding: .utf8) } catch {
                throw ShipitError("--note: cannot write \(note): \(error)")
            }
        }
        if common.json {
            JSONOutput.print(report)
        } else {
            TriageRenderer.print(report, notePath: note, markdown: markdown)
        }
        if report.exitCode != .success { throw ExitCode(report.exitCode.rawValue) }
    }
}

/// `triage` as text: the host table, the verdict, changes, rollback, and the note.
enum TriageRenderer {
    static func print(_ r: TriageReport, notePath: String?, markdown: String) {
        var out: [String] = []
        out.append(
            "Triage of \(r.app)\(r.stage.map { " (\($0))" } ?? "") at \(UTCTime.short(r.time)), \(r.hosts.count) host(s), \(Console.seconds(r.seconds))"
        )
        let supervisor = r.hosts.contains { $0.supervisor != nil }
        var rows = [
            ["HOST", "RELEASE", "LIVE", "READY", "DISK", "MEM FREE", "LOAD/CPU", "FDS", "CHECKS"]
                + (supervisor ? ["SUPERVISOR"] : [])
        ]
        for h in r.hosts {
            guard h.reachable else {
                rows.append([h.host, "UNREACHABLE", "-", "-", "-", "-", "-", "-", "-"] + (supervisor ? ["-"] : []))
                continue
            }
            func pct(_ v: Double?) -> String { v.map { String(cFormat: "%.0f%%", $0) } ?? "?" }
            let checks =
                ([h.roles].compactMap { $0 }
                + h.checks.sorted { $0.key < $1.key }.map { "\($0.key):\($0.value == 0 ? "ok" : "FAIL")" })
                .joined(separator: " ")
            rows.append(
                [
                    h.host, h.release ?? "(none)", h.live ?? "-", h.ready ?? "-", pct(h.diskUsedPercent),
                    pct(h.memoryAvailablePercent),
                    h.loadPerCPU.map { String(cFormat: "%.2f", $0) } ?? "?", pct(h.openFilesPercent),
                    checks.isEmpty ? "-" : checks,
                ] + (supervisor ? [h.supervisor ?? "-"] : []))
        }
        let widths = rows.reduce(into: [Int](repeating: 0, count: rows[0].count)) { w, row in
            for (i, c) in row.enumerated() { w[i] = max(w[i], c.count) }
        }
        for row in rows {
            out.append(row.enumerated().map { i, c in c.padded(toLength: widths[i]) }.joined(separator: "  "))
        }
        out.append("")
        if let layer = r.firstFailingLayer {
            out.append("FIRST FAILING LAYER: \(layer.rawValue)")
            for f in r.findings { out.append("  - \(f.host) [\(f.layer.rawValue)/\(f.check)] \(f.detail)") }
        } else {
            out.append("No failing layer: network, process, health, release, resources, dependencies all pass.")
        }
        out.append("")
        out.append("Changes since \(UTCTime.short(r.since)) (ledger: \(r.changes.ledgerStatus)):")
        if r.changes.entries.isEmpty { out.append("  none") }
        for e in r.changes.entries.suffix(10) {
            out.append(
                "  \(UTCTime.short(e.time))  \(e.operation) \(e.release)  \(e.outcome)  by \(e.by)\(e.attempt == r.likelyChange ? "   <- most likely related" : "")"
            )
        }
        if let likely = r.likelyChange,
            r.changes.entries.contains(where: { $0.attempt == likely && $0.origin != "hosts" })
        {
            out.append("  its picture: shipit report --attempt \(likely) --html report.html")
        }
        out.append("")
        out.append("Logs: error lines since \(UTCTime.short(r.since)) (logs.errors; shipit logs --grep for more):")
        if r.logErrors.isEmpty { out.append("  none") }
        let width = r.logErrors.keys.map(\.count).max() ?? 0
        for (host, found) in r.logErrors.sorted(by: { $0.key < $1.key }) {
            for l in found { out.append("  \(host.padded(toLength: width)) | \(l.text)") }
        }
        for (host, notes) in r.logNotes.sorted(by: { $0.key < $1.key }) {
            for n in notes { out.append("  \(host): \(n)") }
        }
        out.append("")
        let rb = r.rollback
        out.append(
            "Rollback: \(rb.available ? "AVAILABLE" : "not available")\(rb.target.map { " → \($0)" } ?? "")\(rb.available && !rb.safe ? " but NOT SAFE" : ""): \(rb.why)"
        )
        if let c = rb.command, rb.available { out.append("  \(c)") }
        out.append("")
        if let notePath {
            out.append("Incident note written to \(notePath).")
        } else {
            out.append("--- incident note (--note FILE writes it) ---\n" + markdown)
        }
        Console.shared.out(out.joined(separator: "\n"))
    }
}
