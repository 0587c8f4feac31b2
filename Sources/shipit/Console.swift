import FoundationEssentials
import SSH
import Glibc

/// Serialised writes to stdout/stderr: hosts report concurrently, lines must never interleave.
final class Console: @unchecked Sendable {
    static let shared = Console()
    private let lock = Lock()

    func out(_ line: String) { write(line + "\n", to: 1) }
    func err(_ line: String) { write(line + "\n", to: 2) }
    /// Exactly these bytes, no newline (terminal control for the live status line).
    func raw(_ text: String) { write(text, to: 1) }

    private func write(_ text: String, to fd: Int32) {
        // A closed pipe (`shipit changes | head`) is not worth a crash: the rest is dropped.
        lock.withLock { _ = try? FileDescriptorIO.write(fd, text) }
    }

    /// `12.34s`-style durations for summaries.
    static func seconds(_ s: Double) -> String { String(cFormat: "%.2fs", s) }
}
