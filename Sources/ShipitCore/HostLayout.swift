/// Paths on a host for the symlink strategy (design §3). One place, so builders and checks agree.
public struct HostLayout: Sendable, Equatable {
    public let deployTo: String

    public var releases: String { deployTo + "/releases" }
    public var current: String { deployTo + "/current" }
    public var shared: String { deployTo + "/shared" }
    public var meta: String { deployTo + "/.shipit" }
    public var lock: String { meta + "/lock" }
    public var history: String { meta + "/history.jsonl" }
    public var failedMarks: String { meta + "/failed" }
    public func release(_ id: String) -> String { releases + "/" + id }
    public func upload(_ id: String) -> String { meta + "/upload-" + id + ".tar.gz" }
}
