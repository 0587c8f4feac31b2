import FoundationEssentials
import SSH

/// What `shipit check` found: per host, each check with its result and, when it did not pass, what
/// to do about it.
public struct CheckReport: Sendable, Codable {
    public enum Status: String, Sendable, Codable { case ok, warn, fail }

    public struct Item: Sendable, Codable, Equatable {
        public var check: String
        public var status: Status
        public var detail: String
        public var fix: String?

        public init(_ check: String, _ status: Status, _ detail: String, fix: String? = nil) {
            self.check = check
            self.status = status
            self.detail = detail
            self.fix = fix
        }
    }

    public struct HostResult: Sendable, Codable {
        public var host: String
        public var items: [Item]
        public var passed: Bool { !items.contains { $0.status == .fail } }
    }

    public var app: String
    public var strategy: String
    public var deployTo: String
    public var hosts: [HostResult]
    public var seconds: Double

    public var passed: Bool { hosts.allSatisfy(\.passed) }

    private enum Keys: String, CodingKey { case app, strategy, deployTo, hosts, seconds, ready, failedHosts }

    /// The stored fields plus `ready` and `failedHosts`, for pipelines reading `--json`.
    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: Keys.self)
        try c.encode(app, forKey: .app)
        try c.encode(strategy, forKey: .strategy)
        try c.encode(deployTo, forKey: .deployTo)
        try c.encode(hosts, forKey: .hosts)
        try c.encode(seconds, forKey: .seconds)
        try c.encode(passed, forKey: .ready)
        try c.encode(failedHosts, forKey: .failedHosts)
    }
    public var failedHosts: [String] { hosts.filter { !$0.passed }.map(\.host) }

    /// The table an operator reads, then what to do, host by host.
    public func render() -> String {
        let rows = hosts.flatMap { h in h.items.map { (h.host, $0) } }
        let hw = max(4, rows.map(\.0.count).max() ?? 0)
        let cw = max(5, rows.map(\.1.check.count).max() ?? 0)
        func pad(_ s: String, _ w: Int) -> String { s + String(repeating: " ", count: max(0, w - s.count)) }
        var lines = ["shipit check: \(app) (\(strategy)) in \(deployTo) on \(hosts.count) host(s); nothing was changed"]
        lines.append("\(pad("HOST", hw))  \(pad("CHECK", cw))  RESULT  DETAIL")
        for (host, item) in rows {
            lines.append(
                "\(pad(host, hw))  \(pad(item.check, cw))  \(pad(item.status.rawValue.uppercased(), 6))  \(item.detail)"
            )
        }
        let todo = rows.filter { $0.1.status != .ok && $0.1.fix != nil }
        if !todo.isEmpty {
            lines.append("")
            lines.append("What to do:")
            for (host, item) in todo { lines.append("  \(host) \(item.check): \(item.fix!)") }
        }
        lines.append("")
        let warned = hosts.filter { $0.passed && $0.items.contains { $0.status == .warn } }.count
        if passed {
            lines.append(
                "All \(hosts.count) host(s) ready to deploy\(warned > 0 ? " (\(warned) with warnings)" : "") (\(String(cFormat: "%.2f", seconds)) s)."
            )
        } else {
            lines.append(
                "NOT READY: \(failedHosts.count) of \(hosts.count) host(s) failed a check: \(failedHosts.joined(separator: ", ")) (\(String(cFormat: "%.2f", seconds)) s)."
            )
        }
        return lines.joined(separator: "\n")
    }
}
