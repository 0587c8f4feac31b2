import FoundationEssentials
import SSH

/// The hosts of one run and their sessions: one SSH session per host, opened in parallel (bounded by
/// `parallel`) and reused for every step of the run.
public final class Fleet: Sendable {
    public let hosts: [String]
    public let settings: ConnectionSettings
    private let sessions = ConnectTable<SSHSession>()
    private let jumps = ConnectTable<SSHJumpHost>()
    private let starts: StartPacer

    public init(hosts: [String], settings: ConnectionSettings) {
        self.hosts = hosts
        self.settings = settings
        self.starts = StartPacer(limit: settings.maxConcurrentStarts)
    }

    /// Runs `body` for every host concurrently (at most `settings.parallel` at once) and returns the
    /// results in host order. A host's failure is its own result; it never cancels the others.
    public func forEachHost<T: Sendable>(
        _ body: @escaping @Sendable (String) async -> T
    ) async -> [String: T] {
        await Self.bounded(hosts, limit: settings.parallel, body)
    }

    public static func bounded<T: Sendable>(
        _ hosts: [String], limit: Int, _ body: @escaping @Sendable (String) async -> T
    ) async -> [String: T] {
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

    /// The host's session, connecting on first use: through its jump hosts if it has any, with at
    /// most `maxConcurrentStarts` handshakes in flight across the fleet. Callers that ask while the
    /// connect is under way wait for that one; a connect that failed is tried again on the next ask.
    public func session(_ host: String) async throws -> SSHSession {
        let task = await sessions.task(for: host) { Task { [self] in try await connect(host) } }
        do { return try await task.value } catch {
            await sessions.dropFailed(host, task)
            throw error
        }
    }

    private func connect(_ host: String) async throws -> SSHSession {
        let endpoint = try settings.endpoint(for: host)
        let via = endpoint.jumps.isEmpty ? nil : try await jumpHost(endpoint.jumps)
        return try await starts.paced {
            if let via { return try await via.connect(to: endpoint.target, options: endpoint.options) }
            return try await SSHSession.connect(to: endpoint.target, options: endpoint.options)
        }
    }

    /// Starts connecting to `hosts` (paced like any connect), for a run that has other work to do
    /// first: the handshakes take the longest and need nothing from it. Failures are left to the
    /// steps that use the hosts.
    public func prepare(_ hosts: [String]) async {
        await withTaskGroup(of: Void.self) { group in
            for h in hosts { group.addTask { [self] in _ = try? await session(h) } }
        }
    }

    /// Kinds of failure that mean a host cannot be reached (not that it is the wrong host).
    static let unreachableKinds: Set<SSHError.Kind> = [.resolve, .connect, .timeout, .handshake, .authentication]

    /// The hosts whose session cannot be opened, with why (see `HostTransport.unreachable`).
    public func unreachable(_ hosts: [String]) async -> [String: String] {
        await withTaskGroup(of: (String, String?).self) { group in
            for h in hosts {
                group.addTask { [self] in
                    do {
                        _ = try await session(h)
                        return (h, nil)
                    } catch let e as SSHError where Self.unreachableKinds.contains(e.kind) {
                        return (h, "\(e.operation): \(e.message)")
                    } catch {
                        return (h, nil)
                    }
                }
            }
            var out: [String: String] = [:]
            for await (h, why) in group { if let why { out[h] = why } }
            return out
        }
    }

    /// The bastion session at the end of `hops` (each hop reached through the one before),
    /// opened once and shared by every host behind it.
    func jumpHost(_ hops: [HostEndpoint.Hop]) async throws -> SSHJumpHost {
        let hop = hops[hops.count - 1]
        let task = await jumps.task(for: hop.key) { [self] in
            Task {
                let parent = hops.count > 1 ? try await jumpHost(Array(hops.dropLast())) : nil
                do {
                    return try await starts.paced {
                        try await SSHJumpHost.connect(to: hop.target, options: hop.options, via: parent)
                    }
                } catch let e as SSHError {
                    // Every host behind it shows this: say it is the jump host that failed.
                    throw SSHError(
                        kind: e.kind, host: e.host, operation: "jump host \(hop.target): \(e.operation)",
                        message: e.message)
                }
            }
        }
        return try await task.value
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
        // Bastions last: the sessions above ran through them.
        for jump in await jumps.removeAll() { await jump.close() }
    }
}

/// Connections of a run by key (a host's session, a bastion's chain), each the task that opens
/// it: callers that ask at once wait for one connect instead of opening several.
actor ConnectTable<Value: Sendable> {
    private var table: [String: Task<Value, Error>] = [:]

    func task(for key: String, _ make: () -> Task<Value, Error>) -> Task<Value, Error> {
        if let t = table[key] { return t }
        let t = make()
        table[key] = t
        return t
    }

    /// Forgets a connect that failed (unless a newer one took its place).
    func dropFailed(_ key: String, _ task: Task<Value, Error>) {
        if table[key] == task { table[key] = nil }
    }

    func remove(_ key: String) async -> Value? {
        guard let t = table.removeValue(forKey: key) else { return nil }
        return try? await t.value
    }

    /// Every connection that opened, the table emptied.
    func removeAll() async -> [Value] {
        let tasks = Array(table.values)
        table = [:]
        var open: [Value] = []
        for t in tasks { if let v = try? await t.value { open.append(v) } }
        return open
    }
}
