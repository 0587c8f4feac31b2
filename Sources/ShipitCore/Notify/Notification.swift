import FoundationEssentials
import ShipitSupport

/// The JSON body POSTed to a `notify:` webhook at the start and the end of a run. `text` is
/// Slack-compatible (an incoming webhook shows it as the message).
public struct Notification: Codable, Sendable, Equatable {
    public struct Host: Codable, Sendable, Equatable {
        public var host: String
        public var previous: String?
        public var current: String?
        public var status: String
        public var error: String?
    }

    public var event: String
    public var attempt: String
    public var operation: String
    public var app: String
    public var stage: String?
    public var outcome: String
    public var release: String
    public var previousRelease: String?
    public var hosts: [Host]
    public var changedFiles: [String]
    public var seconds: Double?
    public var time: Date
    public var text: String

    /// Sorted keys, ISO 8601 dates: the exact bytes that are signed.
    public func body() -> Data {
        let e = JSONEncoder()
        e.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        e.dateEncodingStrategy = .iso8601
        return (try? e.encode(self)) ?? Data("{}".utf8)
    }

    static func text(
        event: String, operation: String, app: String, stage: String?, release: String, outcome: String, hosts: Int,
        seconds: Double?
    ) -> String {
        let name = app + (stage.map { " (\($0))" } ?? "")
        if event == "start" { return "shipit: \(operation) of \(name) \(release) to \(hosts) host(s) started" }
        let took = seconds.map { String(cFormat: " in %.1f s", $0) } ?? ""
        return "shipit: \(operation) of \(name) \(release) \(outcome)\(took) on \(hosts) host(s)"
    }
}
