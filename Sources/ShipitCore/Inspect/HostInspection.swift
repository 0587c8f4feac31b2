import FoundationEssentials

/// What one host looks like right now (the data behind `status`, `releases`, `verify`).
public struct HostInspection: Codable, Sendable, Equatable {
    public struct Lock: Codable, Sendable, Equatable {
        public var holder: String
        public var by: String?
        public var pid: String?
        public var started: String?
        public var reason: String?
        public var ageSeconds: Int?
        /// The holder is a run the ledger knows died: the next deploy from this machine takes it over.
        public var stale: Bool?
    }

    public struct Probe: Codable, Sendable, Equatable {
        public var ok: Bool
        public var detail: String
    }

    public struct Files: Codable, Sendable, Equatable {
        /// `intact`, `modified`, `no-manifest` or `no-current`.
        public var status: String
        public var modified: [String]
        public var added: [String]
    }

    public var host: String
    public var reachable: Bool
    public var error: String?
    public var current: String?
    public var releases: [String] = []
    public var failed: [String] = []
    /// What `rollback` would pick on this host: the newest good release older than current.
    public var previous: String?
    public var lock: Lock?
    public var live: Probe?
    public var ready: Probe?
    /// The host's role processes (a worker), checked once: running, status command passing.
    public var roles: [Probe]?
    public var files: Files?
    /// Image strategy: the state of the current release's container (`running`, `exited`, `missing`…).
    public var container: String?
    /// Traffic switch: the slot (port) serving traffic, the release running warm on the other slot
    /// (the instant rollback target) and that slot, and whether the proxy is in maintenance.
    public var slot: Int?
    public var standby: String?
    public var standbySlot: Int?
    public var maintenance: Bool?
    /// A request step's share of requests to the other slot's release (a paused rollout).
    public var requestSplit: Int?
    /// Who keeps the host's processes running (symlink strategy): systemd with its units' states,
    /// or none.
    public var supervisor: SupervisorState?

    public init(host: String, reachable: Bool, error: String? = nil) {
        self.host = host
        self.reachable = reachable
        self.error = error
    }

    /// "worker ok, cron FAIL" (nil: no role process checked).
    public var rolesSummary: String? { roles.map(Self.summary) }

    /// "worker ok, cron FAIL": each role probe's name (the start of its detail) and verdict.
    static func summary(_ probes: [Probe]) -> String {
        probes.map { p in "\(p.detail.split(separator: ":").first.map(String.init) ?? "role") \(p.ok ? "ok" : "FAIL")" }
            .joined(separator: ", ")
    }

    public var healthy: Bool {
        reachable && (live?.ok ?? true) && (ready?.ok ?? true) && (roles ?? []).allSatisfy(\.ok)
    }

    /// Fills the inventory fields from the inspection script's output.
    mutating func read(_ out: ScriptOutput, now: Date = Date()) {
        current = out.first(.current).flatMap { $0.isEmpty ? nil : $0 }
        releases = out.all(.release)
        failed = out.all(.failed)
        // Releases come oldest first (both strategies), so "older" is "earlier in the list".
        if let cur = current, let i = releases.firstIndex(of: cur) {
            previous = releases[..<i].last { !failed.contains($0) }
        }
        container = out.first(.container)
        slot = out.first(.slotActive).flatMap { Int($0) }
        for (key, value) in out.pairs where key.hasPrefix("slot.") {
            guard let port = Int(key.dropFirst(5)), port != slot else { continue }
            let parts = value.split(separator: " ").map(String.init)
            if parts.count == 2, parts[1] == "running" {
                standby = parts[0]
                standbySlot = port
            }
        }
        maintenance = out.first(.maintenance).map { $0 == "on" }
        requestSplit = out.first("split.share").flatMap { Int($0) }.flatMap { $0 > 0 ? $0 : nil }
        supervisor = SupervisorState(out)
        if let holder = out.first(.lockHolder) {
            let started = out.first(.lockStarted)
            let age = started.flatMap(UTCTime.parse).map { Int(now.timeIntervalSince($0)) }
            lock = Lock(
                holder: holder, by: out.first(.lockBy), pid: out.first(.lockPID), started: started,
                reason: out.first(.lockReason), ageSeconds: age)
        }
        if let status = out.first(.files) {
            files = Files(status: status, modified: out.all(.modified), added: out.all(.added))
        }
    }
}
