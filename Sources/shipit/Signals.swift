import FoundationEssentials
import Glibc
import ShipitCore

/// SIGINT/SIGTERM raise the interrupt instead of killing the process, so the run can clean up.
/// The handler only stores a flag and writes a fixed line (async-signal-safe), so it takes effect
/// at once however busy the process's threads are.
enum Signals {
    static let message = Array("shipit: received a signal; finishing the current step, then cleaning up\n".utf8)

    /// Every `InterruptFlag` of the process sees the signal (`InterruptFlag.signalled`).
    static func install() {
        _ = InterruptFlag.signalled  // initialised before any handler can run
        _ = message
        for sig in [SIGINT, SIGTERM] {
            signal(sig) { _ in
                InterruptFlag.signalled.pointee = 1
                Signals.message.withUnsafeBufferPointer { _ = write(2, $0.baseAddress, $0.count) }
            }
        }
    }
}
