import Foundation

/// Serialised writes to stdout/stderr: hosts report concurrently, lines must never interleave.
final class Console: @unchecked Sendable {
    static let shared = Console()
    private let lock = NSLock()

    func out(_ line: String) { write(line, to: FileHandle.standardOutput) }
    func err(_ line: String) { write(line, to: FileHandle.standardError) }
    /// Exactly these bytes, no newline (terminal control for the live status line).
    func raw(_ text: String) {
        lock.lock()
        defer { lock.unlock() }
        FileHandle.standardOutput.write(Data(text.utf8))
    }

    private func write(_ line: String, to handle: FileHandle) {
        lock.lock()
        defer { lock.unlock() }
        handle.write(Data((line + "\n").utf8))
    }

    /// `12.34s`-style durations for summaries.
    static func seconds(_ s: Double) -> String { String(format: "%.2fs", s) }
}
