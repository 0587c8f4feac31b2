import FoundationEssentials
import Glibc
import ShipitCore
import ShipitSupport

/// The live view on a terminal: one status line kept at the bottom and redrawn under each printed
/// line and as notices arrive — the phase, the rollout step, hosts done and failed in the latest
/// step, the bake's time left and each gate's latest sample, the time elapsed. Off when stdout is
/// not a TTY (CI logs get plain lines) and with --json; the lines printed above it are the same.
final class LiveStatus: @unchecked Sendable {
    private let lock = Lock()
    private let enabled: Bool
    private let hostCount: Int
    /// `rollout.bake`, to count the bake's time down.
    private let bake: Double?
    private let started = Date()
    private var phase = "starting"
    private var rolloutStep: String?
    private var bakeStarted: Date?
    private var gates: [(name: String, latest: String)] = []
    private var done: [String: Int] = [:]
    private var failed: [String: Int] = [:]
    private var lastStep = ""

    init(
        hostCount: Int, bake: Double? = nil,
        enabled: Bool = isatty(STDOUT_FILENO) == 1 && ProcessInfo.processInfo.environment["TERM"] != "dumb"
    ) {
        self.hostCount = hostCount
        self.bake = bake
        self.enabled = enabled
    }

    /// Takes in what a notice changes, printed or not, and redraws the status line.
    func observe(_ n: DeployNotice) {
        guard enabled else { return }
        let status: String = lock.withLock {
            if let to = n.enteredPhase {
                phase = to.rawValue
                if to != .bake { bakeStarted = nil }
            }
            if n.step == "bake" {
                if let s = Self.rolloutStep(n.message) { rolloutStep = s }
                bakeStarted = n.status == .started ? n.time : nil
            }
            if n.step == "gate" {
                let name = String(n.message.prefix { $0 != ":" })
                let latest = (n.status == .ok ? "ok" : "FAILED") + (n.host.map { " on \($0)" } ?? "")
                let detail = String(n.message.dropFirst(name.count + 1)).trimmed()
                let text = "\(latest): \(detail.count > 40 ? String(detail.prefix(37)) + "..." : detail)"
                if let i = gates.firstIndex(where: { $0.name == name }) {
                    gates[i].latest = text
                } else {
                    gates.append((name, text))
                }
            } else if n.host != nil, n.status == .ok || n.status == .failed {
                lastStep = n.step
                if n.status == .ok { done[n.step, default: 0] += 1 } else { failed[n.step, default: 0] += 1 }
            }
            return line(now: Date())
        }
        Console.shared.raw("\r\u{1B}[K\u{1B}[7m" + status + "\u{1B}[0m")
    }

    /// Prints `line` above the status line and redraws it.
    func show(_ line: String) {
        // One notice, one line: a newline or `\r` in remote text must not start a line of its own.
        let line = TerminalText.visible(line, newlines: false)
        guard enabled else {
            Console.shared.out(line)
            return
        }
        let status = lock.withLock { self.line(now: Date()) }
        Console.shared.raw("\r\u{1B}[K" + line + "\n\u{1B}[7m" + status + "\u{1B}[0m")
    }

    /// The status line, cut to the terminal's width (a wrapped line could not be redrawn in place).
    private func line(now: Date) -> String {
        var parts = ["[\(phase)]"]
        if let rolloutStep { parts.append(rolloutStep) }
        if !lastStep.isEmpty {
            let d = done[lastStep] ?? 0
            let f = failed[lastStep] ?? 0
            parts.append("\(lastStep) \(d + f)/\(hostCount)\(f > 0 ? " (\(f) FAILED)" : "")")
        }
        if let bakeStarted, let bake {
            parts.append(String(cFormat: "bake %.0fs left", max(0, bake - now.timeIntervalSince(bakeStarted))))
            for g in gates { parts.append("\(g.name) \(g.latest)") }
        }
        parts.append(String(cFormat: "%.1fs", now.timeIntervalSince(started)))
        // A gate's words are remote text: made visible before the cut, which must not split an escape.
        let text = TerminalText.visible(parts.joined(separator: " · "), newlines: false)
        // Cut to the columns it takes (a wide character takes two): a wrapped line is not redrawn in place.
        return TerminalText.fit(text, columns: max(1, Self.columns() - 1))
    }

    /// `step 1/2` at the head of a bake's message.
    static func rolloutStep(_ message: String) -> String? {
        guard message.hasPrefix("step "), let colon = message.firstIndex(of: ":") else { return nil }
        let s = String(message[..<colon])
        return s.split(separator: " ").count == 2 ? s : nil
    }

    static func columns() -> Int {
        var w = winsize()
        guard ioctl(STDOUT_FILENO, UInt(TIOCGWINSZ), &w) == 0, w.ws_col > 0 else { return 120 }
        return Int(w.ws_col)
    }

    /// Removes the status line before the final summary.
    func finish() {
        if enabled { Console.shared.raw("\r\u{1B}[K") }
    }
}
