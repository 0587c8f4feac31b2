import Foundation
import SSH

/// The hosts of one run and their sessions: one SSH session per host, opened in parallel (bounded by
/// `parallel`) and reused for every step of the run.
public final class Fleet: Sendable {
    public let hosts: [String]
    public let settings: ConnectionSettings
    private let sessions: SessionTable

    public init(hosts: [String], settings: ConnectionSettings) {
        self.hosts = hosts
        self.settings = settings
        self.sessions = SessionTable()
    }

    /// Runs `body` for every host concurrently (at most `settings.parallel` at once) and returns the
    /// results in host order. A host's failure is its own result; it never cancels the others.
    public func forEachHost<T: Sendable>(
        _ body: @escaping @Sendable (String) async -> T
    ) async -> [String: T] {
        await Self.bounded(hosts, limit: settings.parallel, body)
    }

    public static func bounded<T: Sendable>(_ hosts: [String], limit: Int, _ body: @escaping @Sendable (String) async -> T) async -> [String: T] {
        await withTaskGroup(of: (String, T).self) { group in
            var results: [String: T] = [:]
            var next = 0
            func add() {
                let host = hosts[next]
                next += 1
                group.addTask { (host, await body(host)) }
            }
            while next < hosts.count && next < max(1, limit) { add() }
            for await (host, value) in group {
                results[host] = value
                if next < hosts.count { add() }
            }
            return results
        }
    }

    /// The host's session, connecting on first use.
    public func session(_ host: String) async throws -> SSHSession {
        if let existing = await sessions.get(host) { return existing }
        let session = try await SSHSession.connect(to: settings.target(host), options: settings.sshOptions)
        await sessions.set(host, session)
        return session
    }

    /// Drops a host's session whose connection died, so the next step (a rollback, say) connects
    /// afresh instead of failing on a dead socket.
    public func forget(_ host: String) async {
        if let dead = await sessions.remove(host) { await dead.close() }
    }

    public func closeAll() async {
        let all = await sessions.removeAll()
        await withTaskGroup(of: Void.self) { group in
            for s in all { group.addTask { await s.close() } }
        }
    }
}

actor SessionTable {
    private var table: [String: SSHSession] = [:]
    func get(_ host: String) -> SSHSession? { table[host] }
    func set(_ host: String, _ session: SSHSession) { table[host] = session }
    func remove(_ host: String) -> SSHSession? { table.removeValue(forKey: host) }
    func removeAll() -> [SSHSession] {
        defer { table = [:] }
        return Array(table.values)
    }
}
