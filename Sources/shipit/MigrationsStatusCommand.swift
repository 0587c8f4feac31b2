import ArgumentParser
import FoundationEssentials
import ShipitCore
import ShipitSupport

extension MigrationsCommand {
    struct Status: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Applied migrations on the database (through the migration host), and drift against a release.")
        @OptionGroup var common: ConfigOptions
        @Option(
            name: .long,
            help: ArgumentHelp(
                "Release directory to compare with (default: only list what is applied).", valueName: "dir")) var from:
            String?

        func run() async throws {
            let config = try await common.loadMaskingSecrets()
            guard let m = config.migrations else {
                throw ShipitError.input("migrations: this config has no 'migrations' section")
            }
            let status = try await MigrationStatus.read(config)
            let applied = status.applied
            let host = status.host
            Console.shared.out("\(applied.count) migration(s) applied (via \(host)):")
            for a in applied {
                Console.shared.out("  \(String(cFormat: "%04d", a.version))_\(a.name)  sha256 \(a.checksum.prefix(12))")
            }
            if let from {
                let set = try MigrationSet.load(root: from, dir: m.dir)
                let drift = set.drift(applied: applied)
                for p in set.pending(applied: applied) {
                    Console.shared.out("pending: \(p.label)\(p.isContract ? " (contract)" : "")")
                }
                for d in drift { Console.shared.out("DRIFT: \(d)") }
                if !drift.isEmpty { throw ExitCode(ShipitExit.preflightFailed.rawValue) }
            }
        }
    }
}
