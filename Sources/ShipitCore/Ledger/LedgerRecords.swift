import FoundationEssentials

/// One deploy or rollback run, as the ledger keeps it. Written before the first remote change and
/// rewritten at every state transition, so a crashed run still leaves its last known state.
public struct LedgerAttempt: Codable, Sendable, Equatable {
    public enum Outcome: String, Codable, Sendable, CaseIterable {
        case running, succeeded, failed
        /// A rollout stopped after a step with the lock held, until `shipit rollout promote|abort`.
        case paused
        case rolledBack = "rolled-back"
        case rollbackFailed = "rollback-failed"
        /// The process died (SIGKILL, crash, power loss) before it recorded an outcome.
        case interrupted
    }

    public var id: String
    public var app: String
    public var stage: String?
    public var strategy: String
    /// `deploy` or `rollback`.
    public var operation: String
    public var releaseID: String
    /// Where the release came from: a directory path, or `git <ref>`.
    public var source: String?
    public var commit: String?
    public var ref: String?
    public var user: String
    /// Hostname of the machine that ran shipit.
    public var machine: String
    public var pid: Int32
    /// CI variables present when the run started (GITHUB_RUN_ID, CI_JOB_URL, …).
    public var ci: [String: String]
    public var startedAt: Date
    public var finishedAt: Date?
    public var outcome: Outcome
    /// The state machine's phase at the last record.
    public var state: String
    public var error: String?
    /// Files changed against the previous release (nil when unknown, e.g. a first deploy or a rollback).
    public var changedCount: Int?
    public var changedFiles: [String]
    public var configHash: String
    /// The effective config, flattened to `key.path = value`, secrets redacted.
    public var config: [String: String]
    public var imageDigest: String?
    public var migrations: [String]
    public var rollbackUnsafe: Bool
    /// Per host: previous/current release and the last step seen.
    public var hosts: [LedgerHostState]

    public init(
        id: String, app: String, stage: String?, strategy: String, operation: String, releaseID: String,
        source: String? = nil, commit: String? = nil, ref: String? = nil, user: String, machine: String, pid: Int32,
        ci: [String: String] = [:], startedAt: Date, finishedAt: Date? = nil, outcome: Outcome = .running,
        state: String = "pending", error: String? = nil, changedCount: Int? = nil, changedFiles: [String] = [],
        configHash: String = "", config: [String: String] = [:], imageDigest: String? = nil, migrations: [String] = [],
        rollbackUnsafe: Bool = false, hosts: [LedgerHostState] = []
    ) {
        self.id = id
        self.app = app
        self.stage = stage
        self.strategy = strategy
        self.operation = operation
        self.releaseID = releaseID
        self.source = source
        self.commit = commit
        self.ref = ref
        self.user = user
        self.machine = machine
        self.pid = pid
        self.ci = ci
        self.startedAt = startedAt
        self.finishedAt = finishedAt
        self.outcome = outcome
        self.state = state
        self.error = error
        self.changedCount = changedCount
        self.changedFiles = changedFiles
        self.configHash = configHash
        self.config = config
        self.imageDigest = imageDigest
        self.migrations = migrations
        self.rollbackUnsafe = rollbackUnsafe
        self.hosts = hosts
    }
}

/// Where one host of an attempt stands: updated after every step on it.
public struct LedgerHostState: Codable, Sendable, Equatable {
    public var host: String
    public var previous: String?
    public var current: String?
    /// Last step started or finished on this host, and its status (`running`, `ok`, `failed`).
    public var step: String?
    public var status: String?
    public var error: String?
    /// Traffic switch: the slot (port) serving traffic, and the release kept warm on the other one.
    public var slot: Int?
    public var standby: String?
    /// Progressive rollout: the step (1-based) the host belongs to, and when it was switched to
    /// the release (nil: never started — a later step the rollout did not reach).
    public var rolloutStep: Int?
    public var switchedAt: Date?

    public init(
        host: String, previous: String? = nil, current: String? = nil, step: String? = nil, status: String? = nil,
        error: String? = nil,
        slot: Int? = nil, standby: String? = nil, rolloutStep: Int? = nil, switchedAt: Date? = nil
    ) {
        self.host = host
        self.previous = previous
        self.current = current
        self.step = step
        self.status = status
        self.error = error
        self.slot = slot
        self.standby = standby
        self.rolloutStep = rolloutStep
        self.switchedAt = switchedAt
    }
}

/// One step on one host (or a run-level event when `host` is nil, e.g. a state transition).
public struct LedgerStep: Codable, Sendable, Equatable {
    public var id: Int64?
    public var attemptID: String
    public var host: String?
    public var step: String
    /// `running` while in flight, then `ok` or `failed`; `info` for run-level events.
    public var status: String
    public var startedAt: Date
    public var finishedAt: Date?
    public var exitStatus: Int32?
    public var stderrTail: String?
    public var message: String?
    /// The number an event measured (a gate's sampled value), so the run's picture can draw it
    /// over time; nil when nothing was measured.
    public var value: Double?

    public init(
        id: Int64? = nil, attemptID: String, host: String?, step: String, status: String, startedAt: Date,
        finishedAt: Date? = nil, exitStatus: Int32? = nil, stderrTail: String? = nil, message: String? = nil,
        value: Double? = nil
    ) {
        self.id = id
        self.attemptID = attemptID
        self.host = host
        self.step = step
        self.status = status
        self.startedAt = startedAt
        self.finishedAt = finishedAt
        self.exitStatus = exitStatus
        self.stderrTail = stderrTail
        self.message = message
        self.value = value
    }
}

/// Which attempts to read: a UTC window (inclusive start, exclusive end), optionally one app/stage/host.
public struct LedgerQuery: Sendable, Equatable {
    public var from: Date?
    public var to: Date?
    public var app: String?
    /// nil = any stage; `.some(nil)` = attempts without a stage.
    public var stage: String??
    public var host: String?
    public var limit: Int?

    public init(
        from: Date? = nil, to: Date? = nil, app: String? = nil, stage: String?? = nil, host: String? = nil,
        limit: Int? = nil
    ) {
        self.from = from
        self.to = to
        self.app = app
        self.stage = stage
        self.host = host
        self.limit = limit
    }
}
