import ArgumentParser
import Foundation
import ShipitCore

struct MigrationsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "migrations",
        abstract: "The migration gate: lint a release's migrations, or compare them with the database.",
        subcommands: [Check.self, Status.self]
    )

    struct Check: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Expand/contract lint of a release's migrations (a CI step). Exits 3 when one is not rollback-safe.")
        @Option(name: .long, help: ArgumentHelp("Release directory.", valueName: "dir")) var from: String
        @Option(name: .long, help: "Migrations directory inside the release.") var dir: String = "db/migrations"
        @Flag(name: .long, help: "JSON output.") var json = false

        func run() async throws {
            try Names.relativePath(dir, field: "--dir")
            let set = try MigrationSet.load(root: from, dir: dir)
            let findings = set.files.flatMap(\.findings)
            if json {
                struct Out: Encodable { let schema = 1; let files: [MigrationSet.File]; let rollbackSafe: Bool }
                JSONOutput.print(Out(files: set.files, rollbackSafe: findings.isEmpty))
            } else {
                for f in set.files {
                    Console.shared.out("\(f.path): \(f.isContract ? "CONTRACT (not rollback-safe)" : "expand")")
                    for x in f.findings { Console.shared.out("  \(x.file):\(x.line): \(x.rule) [\(x.kind.rawValue)] \(x.statement)\n    instead: \(x.alternative)") }
                }
                Console.shared.out(set.files.isEmpty ? "no migrations in \(dir)" : (findings.isEmpty ? "all \(set.files.count) migration(s) are expand-only: rollback-safe" : "\(findings.count) finding(s): deploying this needs --allow-contract"))
            }
            if !findings.isEmpty { throw ExitCode(ShipitExit.preflightFailed.rawValue) }
        }
    }

    struct Status: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Applied migrations on the database (through the migration host), and drift against a release.")
        @OptionGroup var common: ConfigOptions
        @Option(name: .long, help: ArgumentHelp("Release directory to compare with (default: only list what is applied).", valueName: "dir")) var from: String?

        func run() async throws {
            let config = try common.load()
            guard let m = config.migrations else { throw ShipitError.input("migrations: this config has no 'migrations' section") }
            let status = try await MigrationStatus.read(config)
            let applied = status.applied
            let host = status.host
            Console.shared.out("\(applied.count) migration(s) applied (via \(host)):")
            for a in applied { Console.shared.out("  \(String(format: "%04d", a.version))_\(a.name)  sha256 \(a.checksum.prefix(12))") }
            if let from {
                let set = try MigrationSet.load(root: from, dir: m.dir)
                let drift = set.drift(applied: applied)
                for p in set.pending(applied: applied) { Console.shared.out("pending: \(p.label)\(p.isContract ? " (contract)" : "")") }
                for d in drift { Console.shared.out("DRIFT: \(d)") }
                if !drift.isEmpty { throw ExitCode(ShipitExit.preflightFailed.rawValue) }
            }
        }
    }
}
