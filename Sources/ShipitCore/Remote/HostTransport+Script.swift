import FoundationEssentials
import SSH

extension HostTransport {
    /// A host script run for what it prints: its output, or why it failed, as an operator reads
    /// it (its `error=` line, else its exit status; a connection failure without the host's name).
    func runScript(_ host: String, _ command: RemoteCommand, stdin: Data? = nil) async -> Result<
        ScriptOutput, ShipitError
    > {
        do {
            let r: ExecResult
            if let stdin { r = try await run(host, command, stdin: stdin) } else { r = try await run(host, command) }
            let out = ScriptOutput(r.stdoutText)
            guard r.status.succeeded else { return .failure(ShipitError(out.first(.error) ?? "exit \(r.exitCode)")) }
            return .success(out)
        } catch {
            return .failure(ShipitError(ErrorText.withoutHost(error)))
        }
    }
}
