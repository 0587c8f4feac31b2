import Foundation
import ShipitCore

/// SIGINT/SIGTERM raise the flag instead of killing the process, so the deploy can clean up.
enum Signals {
    nonisolated(unsafe) static var sources: [DispatchSourceSignal] = []

    static func install(_ flag: InterruptFlag) {
        for sig in [SIGINT, SIGTERM] {
            signal(sig, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: sig, queue: .global())
            source.setEventHandler {
                Console.shared.err("shipit: received signal \(sig); finishing the current step, then cleaning up")
                flag.raise()
            }
            source.resume()
            sources.append(source)
        }
    }
}
