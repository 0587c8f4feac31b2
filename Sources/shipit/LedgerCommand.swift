import ArgumentParser
import FoundationEssentials
import ShipitCore

struct LedgerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ledger",
        abstract: "Ledger maintenance.",
        subcommands: [Migrate.self]
    )

    struct Migrate: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Copy a ledger into a shared PostgreSQL ledger (idempotent: run it again after an interruption).",
            discussion:
                "shipit ledger migrate --from sqlite:.shipit/ledger.sqlite --to postgres://shipit@db.internal:5432/shipit --password-env SHIPIT_LEDGER_PASSWORD"
        )

        @Option(name: .long, help: ArgumentHelp("The ledger to copy: sqlite:PATH.", valueName: "sqlite:path"))
        var from: String

        @Option(
            name: .long,
            help: ArgumentHelp(
                "The shared ledger: postgres://user@host:port/database[?schema=name] (no password).", valueName: "url"))
        var to: String

        @Option(
            name: .customLong("password-env"),
            help: "Environment variable holding the password (default: SHIPIT_LEDGER_PASSWORD).")
        var passwordEnv: String?

        @Option(name: .customLong("password-file"), help: "File holding the password.")
        var passwordFile: String?

        func run() async throws {
            guard from.hasPrefix("sqlite:") else { throw ShipitError.input("--from: expected sqlite:PATH") }
            let path = String(from.dropFirst("sqlite:".count))
            guard FileManager.default.fileExists(atPath: path) else {
                throw ShipitError.input("--from: no ledger at \(path)")
            }
            var target = try LedgerLocation.PostgresTarget.parse(to, field: "--to")
            if let passwordEnv {
                guard RemoteCommand.isValidEnvName(passwordEnv) else {
                    throw ShipitError.input("--password-env: not a variable name")
                }
                target.passwordEnv = passwordEnv
            }
            target.passwordFile = passwordFile
            let source = try SQLiteLedger(path: path, create: false)
            let dest = try await PostgresLedger.connect(target)
            let r = try await LedgerCopy.copy(from: source, to: dest) { n in Console.shared.err("  … \(n) attempts") }
            await dest.close()
            Console.shared.out(
                "copied \(r.copied) attempt(s) with \(r.steps) step(s) from \(path) to \(target.display); \(r.skipped) already there"
            )
            switch r.keyCopied {
            case true?:
                Console.shared.out("copied the fingerprint key (\(path).key): secrets' fingerprints stay comparable")
            case false?:
                Console.shared.err(
                    "warning: \(target.display) has another fingerprint key: each secret shows as changed once, at its next deploy"
                )
            case nil: break
            }
        }
    }
}
