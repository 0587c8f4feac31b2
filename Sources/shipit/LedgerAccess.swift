import Foundation
import ShipitCore

/// Opens the ledger for a command and reports, on stderr, any attempt a dead process left behind.
enum LedgerAccess {
    static func forWriting(_ config: DeployConfig) async throws -> Ledger {
        let ledger: Ledger
        do { ledger = try await LedgerStore.openForWriting(config) } catch {
            throw ShipitError("cannot open the ledger \(config.ledgerPath) (every run is recorded, so nothing was started): \(error)")
        }
        await reportInterrupted(ledger)
        return ledger
    }

    static func forReading(_ config: DeployConfig) async -> (ledger: Ledger?, status: String) {
        let (ledger, status) = await LedgerStore.openForReading(config)
        if let ledger { await reportInterrupted(ledger) }
        return (ledger, status)
    }

    static func reportInterrupted(_ ledger: Ledger) async {
        for a in await LedgerStore.recover(ledger) {
            Console.shared.err("shipit: warning: " + LedgerStore.describeInterrupted(a))
        }
    }
}
