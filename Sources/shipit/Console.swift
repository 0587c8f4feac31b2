import FoundationEssentials
import Glibc
import ShipitCore
import ShipitSupport

/// Serialised writes to stdout/stderr: hosts report concurrently, lines must never interleave.
/// Every line of human output passes through `TerminalText.visible` here, the one edge where text
/// reaches the terminal: remote text (output, logs, errors, health bodies) shows its control
/// characters instead of driving the terminal. JSON lines keep their exact value (`json`).
final class Console: @unchecked Sendable {
    static let shared = Console()
    private let lock = Lock()

    func out(_ line: String) { write(TerminalText.visible(line) + "\n", to: 1) }
    func err(_ line: String) { write(TerminalText.visible(line) + "\n", to: 2) }
    /// A JSON document or NDJSON line: exact (it decodes to the same value), terminal-safe.
    func json(_ line: String) { write(TerminalText.jsonSafe(line) + "\n", to: 1) }
    /// Exactly these bytes, no newline: shipit's own terminal control (the live status line,
    /// GitLab section markers), never text from elsewhere.
    func raw(_ text: String) { write(text, to: 1) }

    private func write(_ text: String, to fd: Int32) {
        // A closed pipe (`shipit changes | head`) is not worth a crash: the rest is dropped.
        lock.withLock { _ = try? FileDescriptorIO.write(fd, text) }
    }

    /// `12.34s`-style durations for summaries.
    static func seconds(_ s: Double) -> String { String(cFormat: "%.2fs", s) }
}
