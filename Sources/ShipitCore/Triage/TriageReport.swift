import FoundationEssentials

/// What `shipit triage` found, in playbook order. Encoded as-is by `triage --json`.
public struct TriageReport: Codable, Sendable {
    /// The playbook's layers, in the order they are judged: the first one with a finding is where
    /// to look first.
    public enum Layer: String, Codable, Sendable, CaseIterable {
        case network, process, health, release, resources, dependency, schema
    }

    public struct Finding: Codable, Sendable, Equatable {
        public var host: String
        public var layer: Layer
        public var check: String
        public var detail: String
    }

    public struct HostRow: Codable, Sendable {
        public var host: String
        public var reachable: Bool
        public var error: String?
        public var release: String?
        public var live: String?
        public var ready: String?
        public var diskUsedPercent: Double?
        public var memoryAvailablePercent: Double?
        public var loadPerCPU: Double?
        public var openFilesPercent: Double?
        public var container: String?
        public var checks: [String: Int]
        public var lock: String?
        /// "worker ok" for a host with role processes.
        public var roles: String?
        /// The supervisor as `status` shows it ("systemd 2 restarts (slot)"); nil where the
        /// strategy reports none.
        public var supervisor: String?
    }

    public struct Rollback: Codable, Sendable {
        public var available: Bool
        public var target: String?
        public var command: String?
        public var safe: Bool
        public var why: String
    }

    public var schema = 1
    public var app: String
    public var stage: String?
    public var time: Date
    public var since: Date
    public var hosts: [HostRow]
    public var findings: [Finding]
    /// nil: every layer passed.
    public var firstFailingLayer: Layer?
    public var changes: Timeline
    /// The attempt most likely related: the newest change before now that touched an affected host.
    public var likelyChange: String?
    public var rollback: Rollback
    public var seconds: Double
    /// The logs layer: each host's newest error lines (`logs.errors`) since `since`, and notes (no
    /// log file…). Information for the incident, not a failing layer.
    public var logErrors: [String: [LogLine]] = [:]
    public var logNotes: [String: [String]] = [:]

    public var affectedHosts: [String] {
        var seen: [String] = []
        for f in findings where !seen.contains(f.host) { seen.append(f.host) }
        return seen
    }

    public var exitCode: ShipitExit { firstFailingLayer == nil ? .success : .unhealthy }

    static func firstLayer(_ findings: [Finding]) -> Layer? {
        Layer.allCases.first { layer in findings.contains { $0.layer == layer } }
    }
}
