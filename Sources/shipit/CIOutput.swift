import FoundationEssentials
import Glibc
import ShipitCore
import ShipitSupport

/// The pipeline side of a run's output: each phase folded into a group (GitHub `::group::`, GitLab
/// sections), then annotations, the Markdown step summary and the step outputs (GitHub), or a
/// dotenv report (GitLab). Files are appended to as the platforms expect.
final class CIOutput: @unchecked Sendable {
    let platform: CIPlatform
    let rollbackCommand: String
    let environment: [String: String]
    private let lock = Lock()
    private var open: String?
    private var gantt = RunGantt()

    init?(
        platform: CIPlatform, rollbackCommand: String,
        environment: [String: String] = ProcessInfo.processInfo.environment
    ) {
        guard platform != .none else { return nil }
        self.platform = platform
        self.rollbackCommand = rollbackCommand
        self.environment = environment
    }

    /// Every notice, printed or not: the step summary's chart is drawn from them.
    func observe(_ n: DeployNotice) {
        lock.withLock { gantt.add(n) }
    }

    /// A state notice (`a → b`): the group of `a` ends, `b`'s begins (none once the run is over).
    func phase(_ entered: DeployPhase) {
        let next = entered.rawValue
        lock.withLock {
            close()
            guard !entered.isTerminal else { return }
            open = next
            switch platform {
            case .github: Console.shared.out("::group::shipit: \(next)")
            case .gitlab:
                Console.shared.raw(
                    CIPlatform.gitlabSection(start: true, name: "shipit_\(next)", header: "shipit: \(next)") + "\n")
            case .none: break
            }
        }
    }

    private func close() {
        guard let current = open else { return }
        switch platform {
        case .github: Console.shared.out("::endgroup::")
        case .gitlab: Console.shared.raw(CIPlatform.gitlabSection(start: false, name: "shipit_\(current)") + "\n")
        case .none: break
        }
        open = nil
    }

    func finish(_ r: DeployReport, json: Bool) {
        lock.withLock { close() }
        let chart = lock.withLock {
            gantt.markdown(title: "\(r.operation) of \(r.app) \(r.releaseID) \(r.outcome.rawValue)")
        }
        let s = CISummary(report: r, rollbackCommand: rollbackCommand, chart: chart)
        switch platform {
        case .github:
            // Annotations go to stdout even with --json: the runner reads them from the log.
            for line in s.githubAnnotations { Console.shared.out(line) }
            append(s.markdown, to: environment["GITHUB_STEP_SUMMARY"], what: "GITHUB_STEP_SUMMARY")
            append(s.outputLines, to: environment["GITHUB_OUTPUT"], what: "GITHUB_OUTPUT")
        case .gitlab:
            append(
                s.dotenvLines, to: environment["SHIPIT_DOTENV"] ?? "shipit.env", what: "the dotenv report",
                truncate: true)
        case .none: break
        }
    }

    private func append(_ text: String, to path: String?, what: String, truncate: Bool = false) {
        guard let path, !path.isEmpty else { return }
        do {
            // Appending creates the file when it is missing.
            if truncate {
                try text.write(toFile: path, atomically: false, encoding: .utf8)
            } else {
                try FilePath.append(text, to: path, mode: 0o644)
            }
        } catch {
            Console.shared.err("shipit: warning: cannot write \(what) \(path): \(error)")
        }
    }
}
