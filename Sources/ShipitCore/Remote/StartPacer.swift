import FoundationEssentials
import SSH

/// Paces SSH connection starts: at most `limit` handshakes in flight (SSHKit's
/// max_concurrent_starts), and a start that sshd dropped before or during the handshake is tried
/// again after a jittered backoff. sshd's default `MaxStartups 10:30:100` drops a growing share of
/// unauthenticated connections beyond 10, so a dropped start also lowers how many may be in
/// flight (down to 4, below any sane MaxStartups), and each success raises it again by one, as
/// TCP does with its window: a burst of 100 hosts behind one sshd gets through.
actor StartPacer {
    private let limit: Int
    private var window: Int
    private var inFlight = 0
    private var waiting: [CheckedContinuation<Void, Never>] = []
    static let attempts = 10

    init(limit: Int) {
        self.limit = max(1, limit)
        window = self.limit
    }

    func acquire() async {
        if inFlight < window {
            inFlight += 1
            return
        }
        await withCheckedContinuation { waiting.append($0) }
    }

    func release(dropped: Bool) {
        inFlight -= 1
        window = dropped ? max(min(4, limit), window * 2 / 3) : min(limit, window + 1)
        while inFlight < window, !waiting.isEmpty {
            inFlight += 1
            waiting.removeFirst().resume()
        }
    }

    /// Runs `connect` holding a start slot; retries a dropped start (not a refused key or login).
    nonisolated func paced<T: Sendable>(_ connect: @Sendable () async throws -> T) async throws -> T {
        var attempt = 0
        while true {
            await acquire()
            do {
                let value = try await connect()
                await release(dropped: false)
                return value
            } catch let e as SSHError where Self.droppedStart(e) && attempt + 1 < Self.attempts {
                await release(dropped: true)
                attempt += 1
                // Full jitter on an exponential base: up to 50 ms, 100 ms, … 1.6 s.
                let ceiling = 0.05 * Double(1 << min(attempt - 1, 5))
                try? await Task.sleep(for: .milliseconds(Int(Double.random(in: 0.005...ceiling) * 1000)))
            } catch {
                await release(dropped: false)
                throw error
            }
        }
    }

    /// sshd closed or reset the connection before the session was up (MaxStartups, a restart).
    static func droppedStart(_ e: SSHError) -> Bool {
        switch e.kind {
        case .handshake: return true
        case .connectionLost: return e.operation == "SSH handshake"
        case .connect: return e.message.contains("reset")
        default: return false
        }
    }
}
