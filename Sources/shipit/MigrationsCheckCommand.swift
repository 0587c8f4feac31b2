import ArgumentParser
import FoundationEssentials
import ShipitCore

extension MigrationsCommand {
    struct Check: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract:
                "Expand/contract lint of a release's migrations (a CI step). Exits 3 when one is not rollback-safe.")
        @Option(name: .long, help: ArgumentHelp("Release directory.", valueName: "dir")) var from: String
        @Option(name: .long, help: "Migrations directory inside the release.") var dir: String = "db/migrations"
        @Flag(name: .long, help: "JSON output.") var json = false

        func run() async throws {
            try Names.relativePath(dir, field: "--dir")
            let set = try MigrationSet.load(root: from, dir: dir)
            let findings = set.files.flatMap(\.findings)
            if json {
                struct Out: Encodable {
                    let schema = 1
                    let files: [MigrationSet.File]
                    let rollbackSafe: Bool
                }
                JSONOutput.print(Out(files: set.files, rollbackSafe: findings.isEmpty))
            } else {
                for f in set.files {
                    Console.shared.out("\(f.path): \(f.isContract ? "CONTRACT (not rollback-safe)" : "expand")")
                    for x in f.findings {
                        Console.shared.out(
                            "  \(x.file):\(x.line): \(x.rule) [\(x.kind.rawValue)] \(x.statement)\n    instead: \(x.alternative)"
                        )
                    }
                }
                Console.shared.out(
                    set.files.isEmpty
                        ? "no migrations in \(dir)"
                        : (findings.isEmpty
                            ? "all \(set.files.count) migration(s) are expand-only: rollback-safe"
                            : "\(findings.count) finding(s): deploying this needs --allow-contract"))
            }
            if !findings.isEmpty { throw ExitCode(ShipitExit.preflightFailed.rawValue) }
        }
    }
}
