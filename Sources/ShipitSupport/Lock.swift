import Synchronization

/// A plain mutual-exclusion lock for state shared with threads outside Swift concurrency
/// (libssh2 pumps, signal handlers' flags, console output).
public final class Lock: Sendable {
    private let mutex = Mutex(())

    public init() {}

    public func withLock<T>(_ body: () throws -> T) rethrows -> T {
        try mutex.withLock { _ in try body() }
    }
}
