import ArgumentParser
import FoundationEssentials
import ShipitCore

@main
struct Shipit: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "shipit",
        abstract: "Deploy and roll back releases over SSH, with a ledger of everything that changed.",
        version: "shipit \(ShipitVersion.current) (libssh2 \(ShipitVersion.libssh2))",
        subcommands: [
            DeployCommand.self, RollbackCommand.self, SyncCommand.self, ChangesCommand.self, ReleasesCommand.self,
            StatusCommand.self,
            VerifyCommand.self,
            TriageCommand.self, MaintenanceCommand.self, LockCommand.self, LedgerCommand.self, MigrationsCommand.self,
            ExecCommand.self,
            InitCommand.self, CheckCommand.self, RolloutCommand.self, StatsCommand.self, LogsCommand.self,
            ReportCommand.self, ProxyCommand.self, CertsCommand.self,
        ]
    )

    /// The one place errors become exit codes: a `ShipitError` prints `shipit <command>: <message>`
    /// on stderr and exits with its documented code (docs/exit-codes.md); anything else is the
    /// argument parser's (usage, help, `ExitCode`).
    static func main() async {
        MemoryTuning.apply(environment: ProcessInfo.processInfo.environment)
        let arguments = Array(CommandLine.arguments.dropFirst())
        do {
            var command = try parseAsRoot(arguments)
            if var async = command as? AsyncParsableCommand { try await async.run() } else { try command.run() }
        } catch let e as ShipitError {
            // Masked like every other line: an error may quote a host, a command or a secret.
            Console.shared.err(Redactor.standard.redact("shipit \(commandPath(arguments)): \(e.message)"))
            exit(withError: ExitCode(e.exitCode.rawValue))
        } catch {
            let code = exitCode(for: error)
            // Help and --version: the parser prints them.
            guard code != .success else { exit(withError: error) }
            // Any other error's text goes through the Console like every line (it may quote a
            // host). A value the parser refuses (`--port 1e99`, `--lock-wait 99999999999999999999`,
            // an unknown flag) names the flag and exits 2 like every other usage error
            // (docs/exit-codes.md), not the parser's 64.
            let message = fullMessage(for: error)
            if !message.isEmpty { Console.shared.err(Redactor.standard.redact(message)) }
            exit(withError: ExitCode(code == .validationFailure ? ShipitExit.usage.rawValue : code.rawValue))
        }
    }

    /// `deploy`, `lock status`…: the subcommand words at the start of the arguments.
    static func commandPath(_ arguments: [String]) -> String {
        var path: [String] = []
        var command: ParsableCommand.Type = Shipit.self
        for word in arguments {
            guard let sub = command.configuration.subcommands.first(where: { $0._commandName == word }) else { break }
            path.append(word)
            command = sub
        }
        return path.joined(separator: " ")
    }
}
