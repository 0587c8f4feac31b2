import ArgumentParser
import FoundationEssentials
import ShipitCore

struct LockCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "lock",
        abstract: "Show or release the deploy lock on every host.",
        subcommands: [Status.self, Release.self]
    )

    /// Prints each host's lock holder and age; returns whether any host is locked.
    static func show(_ config: DeployConfig) async throws -> Bool {
        var dead: Set<String> = []
        if let ledger = await LedgerAccess.forReading(config).ledger {
            dead = Set(await LedgerStore.deadHolders(ledger, config: config))
        }
        let hosts = await withFleet(config) { await FleetLocks(config: config, transport: $0).read(deadHolders: dead) }
        for h in hosts {
            guard h.reachable else {
                Console.shared.out("\(h.host): unreachable: \(h.error ?? "")")
                continue
            }
            guard let lock = h.lock else {
                Console.shared.out("\(h.host): free")
                continue
            }
            let started = lock.started ?? "?"
            let age = lock.ageSeconds.map { " (\($0)s ago)" } ?? ""
            let stale =
                lock.stale == true
                ? " STALE: that run died (the ledger has it as interrupted); the next deploy from this machine takes the lock over"
                : ""
            Console.shared.out(
                "\(h.host): LOCKED by \(lock.by ?? "?") pid \(lock.pid ?? "?") since \(started)\(age): \(lock.reason ?? "") [holder \(lock.holder)]\(stale)"
            )
        }
        return hosts.contains { $0.lock != nil }
    }
}
