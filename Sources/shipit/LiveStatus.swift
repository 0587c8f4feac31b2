import FoundationEssentials
import Glibc
import ShipitCore
import ShipitSupport

/// The live progress view on a terminal: one status line kept at the bottom (phase, hosts done,
/// failures, elapsed), redrawn under each progress line. Off when stdout is not a TTY (CI logs
/// get plain lines) and with --json.
final class LiveStatus: @unchecked Sendable {
    private let lock = Lock()
    private let enabled: Bool
    private let hostCount: Int
    private let started = Date()
    private var phase = "starting"
    private var done: [String: Int] = [:]
    private var failed: [String: Int] = [:]
    private var lastStep = ""

    init(
        hostCount: Int,
        enabled: Bool = isatty(STDOUT_FILENO) == 1 && ProcessInfo.processInfo.environment["TERM"] != "dumb"
    ) {
        self.hostCount = hostCount
        self.enabled = enabled
    }

    /// Prints `line` above the status line and redraws it with what the notice changed.
    func show(_ line: String, notice n: DeployNotice) {
        // One notice, one line: a newline or `\r` in remote text must not start a line of its own.
        let line = TerminalText.visible(line, newlines: false)
        guard enabled else {
            Console.shared.out(line)
            return
        }
        let status: String = lock.withLock {
            if n.step == "state", let to = n.message.components(separatedBy: " → ").last { phase = to }
            if n.host != nil, n.status == .ok || n.status == .failed {
                lastStep = n.step
                if n.status == .ok { done[n.step, default: 0] += 1 } else { failed[n.step, default: 0] += 1 }
            }
            let d = done[lastStep] ?? 0
            let f = failed[lastStep] ?? 0
            let progress = lastStep.isEmpty ? "" : "  \(lastStep) \(d + f)/\(hostCount)\(f > 0 ? " (\(f) FAILED)" : "")"
            return "[\(phase)]\(progress)  \(String(cFormat: "%.1fs", Date().timeIntervalSince(started)))"
        }
        Console.shared.raw("\r\u{1B}[K" + line + "\n\u{1B}[7m" + status + "\u{1B}[0m")
    }

    /// Removes the status line before the final summary.
    func finish() {
        if enabled { Console.shared.raw("\r\u{1B}[K") }
    }
}
