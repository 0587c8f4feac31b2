import SSH

/// `shipit exec -t`: one command on a pseudo-terminal of one host, wired to this process's
/// standard input and output, like `ssh -t` (a console, `psql`), its output through `mask`.
public enum RemoteTerminal {
    /// How the command ended: its exit code, or the signal that killed it (`code` is then -1).
    public struct Exit: Sendable, Equatable {
        public var code: Int32
        public var signal: String?
    }

    /// Connects to `host`, calls `connected` (which may put the local terminal in raw mode, so keys
    /// like Ctrl-C reach the remote program, and returns what undoes it), runs `command` until it
    /// exits, undoes, and disconnects. A failure to connect or to run is the error.
    public static func run(
        _ command: String, host: String, settings: ConnectionSettings, term: String, columns: Int, rows: Int,
        mask: SecretStreamMask? = nil, connected: () -> (() -> Void)?
    ) async -> Result<Exit, Error> {
        let shared = mask.map(SharedSecretStreamMask.init)
        let filter = shared.map { m in
            TerminalOutputFilter(feed: { m.feed($0) }, flush: { m.flush() }, isHolding: { m.isHolding })
        }
        let fleet = Fleet(hosts: [host], settings: settings)
        let session: SSHSession
        do { session = try await fleet.session(host) } catch {
            await fleet.closeAll()
            return .failure(error)
        }
        let restore = connected()
        let result: Result<Exit, Error>
        do {
            let status = try await session.interactive(
                command, term: term, columns: columns, rows: rows, connectTimeout: settings.connectTimeout,
                filter: filter)
            result = .success(Exit(code: status.code, signal: status.signal))
        } catch { result = .failure(error) }
        restore?()
        await fleet.closeAll()
        return result
    }
}
