import Foundation

extension Process {
    /// SIGTERM (or `signal`) only while the child runs: once Foundation has reaped it, its pid may
    /// already name another process of the machine (a test's own shipit run, which would stop as
    /// if an operator had pressed ^C).
    public func stopIfRunning(_ signal: Int32 = SIGTERM) {
        if isRunning { kill(processIdentifier, signal) }
    }
}
