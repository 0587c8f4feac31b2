import FoundationEssentials
import SSH

/// Writes one run into the ledger as it happens: the attempt before the first remote change, every
/// state transition, every step on every host (started, then finished with exit status and stderr
/// tail). Everything is redacted first. A ledger write that fails mid-run is reported once and the
/// run goes on: finishing (or rolling back) the hosts matters more than the record of it.
public final class AttemptRecorder: @unchecked Sendable {
    public let ledger: Ledger
    let redactor: Redactor
    let warn: @Sendable (String) -> Void
    private let lock = Lock()
    private var attempt: LedgerAttempt
    private var warned = false

    public var id: String { attempt.id }
    public var snapshot: LedgerAttempt { lock.withLock { attempt } }

    public init(ledger: Ledger, attempt: LedgerAttempt, redactor: Redactor, warn: @escaping @Sendable (String) -> Void)
    {
        self.ledger = ledger
        self.attempt = attempt
        self.redactor = redactor
        self.warn = warn
    }

    /// The write-ahead record. Throws: a run that cannot be recorded must not start.
    public func begin(settings: [String: String]) async throws {
        let a = snapshot
        do {
            try await ledger.saveConfig(hash: a.configHash, settings: redactor.redact(settings: settings))
            try await ledger.begin(a)
        } catch {
            throw ShipitError("cannot record the attempt in the ledger \(ledger.location): \(error)")
        }
    }

    /// Changes attempt-level fields and writes them (called from the orchestrator, one at a time).
    public func change(_ body: (inout LedgerAttempt) -> Void) async {
        let a: LedgerAttempt = lock.withLock {
            body(&attempt)
            attempt.error = redactor.redact(attempt.error)
            return attempt
        }
        await write { try await self.ledger.update(a) }
    }

    public func transition(to state: String) async {
        await change { $0.state = state }
    }

    public func host(_ state: LedgerHostState) async {
        var s = state
        s.error = redactor.redact(s.error)
        let id = self.id
        await write { try await self.ledger.setHost(id, s) }
    }

    public func stepStarted(host: String?, step: String, known: LedgerHostState?) async -> Int64? {
        let id = self.id
        var row: Int64?
        await write {
            row = try await self.ledger.startStep(
                LedgerStep(attemptID: id, host: host, step: step, status: "running", startedAt: Date()))
        }
        if var k = known {
            k.step = step
            k.status = "running"
            await self.host(k)
        }
        return row
    }

    public func stepFinished(
        _ row: Int64?, step: String, ok: Bool, exitStatus: Int32?, stderrTail: String?, message: String?,
        known: LedgerHostState?
    ) async {
        let status = ok ? "ok" : "failed"
        if let row {
            let tail = redactor.redact(stderrTail)
            let msg = redactor.redact(message)
            await write {
                try await self.ledger.finishStep(
                    row, status: status, finishedAt: Date(), exitStatus: exitStatus, stderrTail: tail, message: msg)
            }
        }
        if var k = known {
            k.step = step
            k.status = status
            k.error = ok ? nil : message
            await host(k)
        }
    }

    /// A run-level event (state transition, hook, signal) as a finished step without a host;
    /// `value`: the number it measured (a gate's sample), kept for drawing it over time.
    public func event(_ step: String, message: String, ok: Bool = true, value: Double? = nil) async {
        let id = self.id
        let msg = redactor.redact(message)
        // NaN and infinities have no portable SQL form (a Prometheus answer can be NaN).
        let value = value.flatMap { $0.isFinite ? $0 : nil }
        await write {
            _ = try await self.ledger.startStep(
                LedgerStep(
                    attemptID: id, host: nil, step: step, status: ok ? "info" : "failed",
                    startedAt: Date(), finishedAt: Date(), message: msg, value: value))
        }
    }

    private func write(_ body: () async throws -> Void) async {
        do { try await body() } catch {
            let first: Bool = lock.withLock {
                defer { warned = true }
                return !warned
            }
            if first { warn("ledger \(ledger.location): write failed, the record of this run is incomplete: \(error)") }
        }
    }
}
