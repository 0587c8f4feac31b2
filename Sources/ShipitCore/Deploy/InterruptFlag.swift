import FoundationEssentials
import Glibc
import Synchronization

/// Set by SIGINT/SIGTERM; the deploy checks it before every step and starts no new one.
public final class InterruptFlag: Sendable {
    private struct Flags {
        var raised = false
        var deadline = false
    }
    private let flags = Mutex(Flags())
    public init() {}
    public func raise() { flags.withLock { $0.raised = true } }
    /// `--deadline` passed: the run stops like on a signal, and says why.
    public func raiseDeadline() {
        flags.withLock {
            $0.raised = true
            $0.deadline = true
        }
    }
    public var deadlinePassed: Bool { flags.withLock { $0.deadline } }
    public var isRaised: Bool {
        if Self.signalled.pointee != 0 { return true }
        return flags.withLock { $0.raised }
    }

    /// Set by the process's signal handler with one store (async-signal-safe); every flag of the
    /// process sees it. A handler cannot wait for a thread: under load, a dispatch source's
    /// handler could run only after the run had moved past the step the signal came in.
    nonisolated(unsafe) public static let signalled: UnsafeMutablePointer<sig_atomic_t> = {
        let p = UnsafeMutablePointer<sig_atomic_t>.allocate(capacity: 1)
        p.pointee = 0
        return p
    }()
}
