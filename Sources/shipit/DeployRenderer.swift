import FoundationEssentials
import Glibc
import ShipitCore
import ShipitSupport

/// Renders deploy notices and the final report, as text or NDJSON.
struct DeployRenderer: Sendable {
    let json: Bool
    let live: LiveStatus
    /// GitHub Actions / GitLab CI: phases folded into groups, annotations, summary and outputs.
    let ci: CIOutput?

    /// What of the progress is printed (`--quiet`, `--verbose`); the live view sees every notice.
    let digest: DigestBox

    init(
        json: Bool, hostCount: Int = 0, bake: Double? = nil, level: ProgressDigest.Level = .normal, ci: CIOutput? = nil
    ) {
        self.json = json
        self.ci = ci
        self.digest = DigestBox(ProgressDigest(level: level, hostCount: hostCount))
        self.live = LiveStatus(
            hostCount: hostCount, bake: bake,
            enabled: ci == nil && !json && isatty(STDOUT_FILENO) == 1
                && ProcessInfo.processInfo.environment["TERM"] != "dumb")
    }

    func encoder() -> JSONEncoder {
        let e = JSONEncoder()
        e.dateEncodingStrategy = .iso8601
        e.outputFormatting = [.sortedKeys]
        return e
    }

    func notice(_ n: DeployNotice) {
        ci?.observe(n)
        if !json, let entered = n.enteredPhase, digest.level != .quiet, let ci { ci.phase(entered) }
        if json {
            if let d = try? encoder().encode(n) { Console.shared.json(String(decoding: d, as: UTF8.self)) }
            return
        }
        live.observe(n)
        for m in digest.take(n) { print(m) }
    }

    private func print(_ n: DeployNotice) {
        let time = UTCTime.clock(n.time)
        let host = n.host ?? "-"
        let dur = n.seconds.map { " (\(Console.seconds($0)))" } ?? ""
        switch n.status {
        case .ok: live.show("\(time) \(host) \(n.step) ok\(n.message.isEmpty ? "" : ": \(n.message)")\(dur)")
        case .failed: live.show("\(time) \(host) \(n.step) FAILED\(dur): \(n.message)")
        case .started, .info: live.show("\(time) \(host) \(n.step): \(n.message)")
        }
    }

    func report(_ r: DeployReport) {
        if !json { for m in digest.flush() { print(m) } }
        live.finish()
        ci?.finish(r, json: json)
        if json {
            struct Final: Encodable {
                let event = "result"
                let report: DeployReport
                let exitCode: Int32
            }
            if let d = try? encoder().encode(Final(report: r, exitCode: r.exitCode.rawValue)) {
                Console.shared.json(String(decoding: d, as: UTF8.self))
            }
            return
        }
        let verdict: String
        switch r.phase {
        case .succeeded:
            verdict =
                "\(r.operation) of \(r.releaseID) succeeded"
                + (r.rollout.map { " in \($0.steps.count) rollout steps" } ?? "")
                + (r.skipped.isEmpty
                    ? ""
                    : " on every reachable host; \(r.skipped.count) unreachable host(s) skipped (shipit status shows them)")
        case .paused:
            let n = r.rollout?.reached ?? 0
            verdict =
                "\(r.operation) of \(r.releaseID) PAUSED after rollout step \(n) of \(r.rollout?.steps.count ?? 0), deploy lock held: shipit rollout promote | shipit rollout abort"
        case .rolledBack where r.deadlineExceeded:
            verdict =
                "\(r.operation) of \(r.releaseID) PASSED ITS DEADLINE (--deadline) and was rolled back on every switched host"
        case .rolledBack where r.resumed == "abort" && !r.interrupted:
            let back = r.hosts.filter { $0.switchedAt != nil }.count
            let split =
                r.rollout?.split.filter { h in !r.hosts.contains { $0.host == h && $0.switchedAt != nil } } ?? []
            let never = r.rollout?.untouched.count ?? 0
            verdict =
                "rollout of \(r.releaseID) ABORTED: the \(back) switched host(s) are back on their previous release"
                + (split.isEmpty ? "" : "; \(split.count) host(s) send every request to it again")
                + (never > 0 ? "; \(never) host(s) of later steps were never touched" : "")
        case .rolledBack:
            let retreated = r.hosts.filter { $0.retreatedFrom != nil }
            let stopped = retreated.allSatisfy { $0.appStopped == true }
            let retreatDone =
                (stopped ? "app stopped" : "app NOT stopped on some hosts (no 'stop' command configured)")
                + " and 'current' removed"
            let retreat =
                retreated.isEmpty
                ? "" : "; \(retreated.count) host(s) had no previous release to return to: " + retreatDone
            if let ro = r.rollout {
                let never = ro.untouched.count
                verdict =
                    "\(r.operation) of \(r.releaseID) FAILED at rollout step \(ro.reached) of \(ro.steps.count)"
                    + (ro.failedGate.map { " (gate \($0.line))" } ?? "")
                    + " and was rolled back on every switched host"
                    + (never > 0 ? "; \(never) host(s) of later steps were never touched" : "")
                    + retreat
            } else if !retreated.isEmpty, r.hosts.allSatisfy({ $0.retreatedFrom != nil || $0.current == $0.previous }) {
                verdict =
                    "\(r.operation) of \(r.releaseID) FAILED; there was no previous release to return to: "
                    + retreatDone
            } else {
                verdict = "\(r.operation) of \(r.releaseID) FAILED and was rolled back on every switched host" + retreat
            }
        case .rollbackFailed:
            verdict = "\(r.operation) of \(r.releaseID) FAILED and ROLLBACK FAILED: hosts may be on different releases"
        default:
            let switched = r.hosts.filter { $0.current == r.releaseID && $0.previous != r.releaseID }.map(\.host)
            if switched.isEmpty {
                verdict =
                    "\(r.operation) \(r.releaseID.isEmpty ? "" : "of \(r.releaseID) ")FAILED in \(r.failedIn?.rawValue ?? "?")\(r.interrupted ? " (interrupted)" : ""); no host was switched"
            } else {
                verdict =
                    "\(r.operation) of \(r.releaseID) FAILED in \(r.failedIn?.rawValue ?? "?") and was NOT rolled back (--no-rollback, or a contract migration was applied: fix forward): \(switched.count) host(s) are on \(r.releaseID)"
            }
        }
        Console.shared.out("\n\(verdict) (\(Console.seconds(r.seconds)), exit \(r.exitCode.rawValue))")
        let width = (r.hosts.map(\.host.count) + r.skipped.map(\.host.count)).max() ?? 0
        for h in r.hosts {
            // A pre-flight that failed on a host read nothing there: not "(none)", which says no release.
            let unread = h.current == nil && h.failedStep == "preflight"
            let current =
                h.switchingTo.map { "UNKNOWN (\(h.current ?? "(none)") or \($0): run shipit status)" } ?? h.current
                ?? (unread ? "(not known: its pre-flight did not finish)" : "(none)")
            var line = "  \(h.host.padded(toLength: width))  current=\(current)"
            if let p = h.previous, p != h.current { line += "  previous=\(p)" }
            if let step = h.rolloutStep {
                line += h.switchedAt == nil ? "  step \(step) (not started)" : "  step \(step)"
            }
            if let step = h.failedStep {
                line += "  failed at \(step): " + TerminalText.visible(h.error ?? "", newlines: false)
            }
            if let r = h.retreatedFrom {
                line +=
                    "  no previous release: \(r) " + (h.appStopped == true ? "stopped" : "left running (set 'stop')")
            }
            Console.shared.out(line)
        }
        for s in r.skipped {
            Console.shared.out(
                "  \(s.host.padded(toLength: width))  SKIPPED: unreachable: \(TerminalText.visible(s.reason, newlines: false))"
            )
        }
        if let id = r.attemptID {
            Console.shared.out("attempt \(id) recorded in the ledger \(r.ledger ?? "")  (shipit changes shows it)")
        }
    }
}

/// The digest's state, shared by the renderer's copies (notices come from several tasks).
final class DigestBox: @unchecked Sendable {
    private let lock = Lock()
    private var digest: ProgressDigest

    init(_ digest: ProgressDigest) { self.digest = digest }

    var level: ProgressDigest.Level { digest.level }

    func take(_ n: DeployNotice) -> [DeployNotice] { lock.withLock { digest.take(n) } }
    func flush() -> [DeployNotice] { lock.withLock { digest.flush() } }
}
