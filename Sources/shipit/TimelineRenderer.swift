import Foundation
import ShipitCore

/// `shipit changes` as text: one block per attempt, newest last, everything in UTC.
enum TimelineRenderer {
    static func print(_ t: Timeline) {
        let window = "\(t.from.map(UTCTime.short) ?? "the beginning") to \(t.to.map(UTCTime.short) ?? "now")"
        let answered = t.hostStatus.values.filter { $0 == "ok" }.count
        let hostsPart = t.hostStatus.values.allSatisfy({ $0 == "not asked" }) ? "hosts not asked" : "\(answered)/\(t.hostStatus.count) hosts answered"
        Console.shared.out("Changes to \(t.app) from \(window) (ledger: \(t.ledgerStatus); \(hostsPart))")
        for n in t.notes { Console.shared.out("note: \(n)") }
        if t.entries.isEmpty { Console.shared.out("no changes in this window") }
        for e in t.entries {
            Console.shared.out("")
            let outcome = e.outcome == "succeeded" ? e.outcome : e.outcome.uppercased()
            Console.shared.out("\(UTCTime.short(e.time))  \(e.operation) \(e.release.isEmpty ? "(no release chosen)" : e.release)  \(outcome)  by \(e.by)  [attempt \(e.attempt)\(e.origin == "hosts" ? ", from host history" : "")]")
            if let link = e.ci["GITHUB_RUN_URL"] ?? e.ci["CI_JOB_URL"] ?? e.ci["BUILDKITE_BUILD_URL"] ?? e.ci["BUILD_URL"] { Console.shared.out("    ci: \(link)") }
            if let s = e.source { Console.shared.out("    source: \(s)\(e.ref.map { " \($0)" } ?? "")\(e.commit.map { " (commit \($0.prefix(12)))" } ?? "")") }
            if let n = e.changedCount {
                let list = e.changedFiles.prefix(8).joined(separator: ", ")
                Console.shared.out("    files: \(n) changed\(list.isEmpty ? "" : ": \(list)")\(e.changedFiles.count > 8 || n > e.changedFiles.count ? ", …" : "")")
            }
            for c in e.configChanges { Console.shared.out("    config: \(c)") }
            if let d = e.imageDigest { Console.shared.out("    image: \(d)") }
            for m in e.migrations { Console.shared.out("    migration: \(m)") }
            for h in e.hosts {
                var line = "    \(h.host): "
                if h.previous == h.current { line += "\(e.outcome == "succeeded" ? "stayed on" : "on") \(h.current ?? "(none)")" }
                else { line += "\(h.previous ?? "(none)") → \(h.current ?? "(none)")" }
                if let step = h.step, h.status != "ok" || e.outcome != "succeeded" { line += "  last step \(step) \(h.status ?? "")" }
                if let err = h.error { line += ": \(err)" }
                Console.shared.out(line)
            }
            if let err = e.error { Console.shared.out("    error: \(err)") }
            if let f = e.finished { Console.shared.out("    finished \(UTCTime.short(f)) (\(Console.seconds(f.timeIntervalSince(e.time))))") }
        }
    }
}
