import ArgumentParser
import ShipitCore
import SSH

@main
struct Shipit: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "shipit",
        abstract: "Deploy and roll back releases over SSH, with a ledger of everything that changed.",
        version: "shipit \(ShipitVersion.current) (libssh2 \(SSHSession.libssh2Version))",
        subcommands: [DeployCommand.self, RollbackCommand.self, ChangesCommand.self, ReleasesCommand.self, StatusCommand.self, VerifyCommand.self, TriageCommand.self, LockCommand.self, LedgerCommand.self, MigrationsCommand.self, ExecCommand.self]
    )
}
