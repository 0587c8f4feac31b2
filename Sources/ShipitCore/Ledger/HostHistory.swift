import FoundationEssentials

/// The host-local audit trail: `<deploy_to>/.shipit/history.jsonl`, one JSON object per line,
/// appended at every switch (`deploy`, `auto-rollback`, `rollback`) and at the end of a run
/// (`outcome`). Lets anyone with SSH access see what happened without the deployer's ledger.
public enum HostHistory {
    public struct Entry: Codable, Sendable, Equatable {
        public var time: Date
        public var event: String
        public var app: String
        public var stage: String?
        public var release: String
        public var previous: String?
        public var attempt: String
        public var by: String
        public var outcome: String?

        public init(
            time: Date, event: String, app: String, stage: String?, release: String, previous: String?, attempt: String,
            by: String, outcome: String? = nil
        ) {
            self.time = time
            self.event = event
            self.app = app
            self.stage = stage
            self.release = release
            self.previous = previous
            self.attempt = attempt
            self.by = by
            self.outcome = outcome
        }

        public var jsonLine: String {
            let data = (try? JSONLine.encoder.encode(self)) ?? Data("{}".utf8)
            return String(decoding: data, as: UTF8.self)
        }
    }

    /// How many lines are read back from each host (the newest).
    public static let readLimit = 5000

    /// Parses the lines a host returned; lines that are not valid entries are skipped (a file
    /// edited by hand, or a line cut by a full disk, must not hide the rest).
    public static func parse(_ text: String) -> [Entry] {
        text.split(separator: "\n").compactMap { line in
            guard let obj = JSONValue.parse(line),
                let timeText = obj["time"]?.string, let time = UTCTime.parse(timeText),
                let event = obj["event"]?.string, let release = obj["release"]?.string
            else { return nil }
            func str(_ k: String) -> String? { obj[k]?.string.flatMap { $0.isEmpty ? nil : $0 } }
            return Entry(
                time: time, event: event, app: str("app") ?? "", stage: str("stage"), release: release,
                previous: str("previous"), attempt: str("attempt") ?? "", by: str("by") ?? "", outcome: str("outcome"))
        }
    }
}
