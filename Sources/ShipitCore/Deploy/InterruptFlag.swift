import FoundationEssentials
import Glibc
import SSH

/// Set by SIGINT/SIGTERM; the deploy checks it before every step and starts no new one.
public final class InterruptFlag: @unchecked Sendable {
    private let lock = Lock()
    private var raised = false
    private var deadline = false
    public init() {}
    public func raise() { lock.withLock { raised = true } }
    /// `--deadline` passed: the run stops like on a signal, and says why.
    public func raiseDeadline() {
        lock.withLock {
            raised = true
            deadline = true
        }
    }
    public var deadlinePassed: Bool { lock.withLock { deadline } }
    public var isRaised: Bool {
        if Self.signalled.pointee != 0 { return true }
        return lock.withLock { raised }
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
