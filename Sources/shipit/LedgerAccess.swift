import ShipitCore

/// Opens the ledger for a reading command; any attempt a dead process left behind is reported on stderr.
enum LedgerAccess {
    static func forReading(_ config: DeployConfig) async -> (ledger: Ledger?, status: String) {
        await LedgerStore.openForReading(config, warn: { Console.shared.err("shipit: warning: " + $0) })
    }
}
