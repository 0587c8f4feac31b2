import FoundationEssentials

/// `shipit ledger migrate`: copies every attempt (with its hosts, steps and config) from one
/// ledger into a PostgreSQL one. Idempotent: an attempt already there is skipped whole, and each
/// attempt is copied in one transaction, so an interrupted copy can simply be run again.
public enum LedgerCopy {
    public struct Result: Sendable, Equatable {
        public var copied = 0
        public var skipped = 0
        public var steps = 0
        /// The source's fingerprint key went with it (secrets' fingerprints stay comparable), or
        /// the target had another one already (nil: the source had none).
        public var keyCopied: Bool?
    }

    public static func copy(from source: Ledger, to target: PostgresLedger, progress: (Int) -> Void = { _ in })
        async throws -> Result
    {
        var result = Result()
        let attempts = try await source.attempts(LedgerQuery())
        let configs = try await source.configs(hashes: Array(Set(attempts.map(\.configHash))))
        for (hash, settings) in configs { try await target.saveConfig(hash: hash, settings: settings) }
        if let sqlite = source as? SQLiteLedger, let key = sqlite.existingFingerprintKey() {
            result.keyCopied = try await target.adoptFingerprintKey(key)
        }
        for (i, a) in attempts.enumerated() {
            try await target.exec("BEGIN")
            do {
                if try await target.insertAttempt(a, ignoreExisting: true) {
                    for h in a.hosts { try await target.setHost(a.id, h) }
                    for s in try await source.steps(attemptID: a.id) {
                        var copy = s
                        copy.id = nil
                        _ = try await target.startStep(copy)
                        result.steps += 1
                    }
                    result.copied += 1
                } else {
                    result.skipped += 1
                }
                try await target.exec("COMMIT")
            } catch {
                try? await target.exec("ROLLBACK")
                throw error
            }
            if i % 1000 == 999 { progress(i + 1) }
        }
        return result
    }
}
