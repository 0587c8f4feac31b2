/// Every path shipit uses on a host, in one place so builders and checks agree. Host
/// scripts get them as shell variables (`HostScript.layoutVariables`), never as literals.
public struct HostLayout: Sendable, Equatable {
    public let deployTo: String

    public init(deployTo: String) { self.deployTo = deployTo }

    public var releases: String { deployTo + "/releases" }
    public var current: String { deployTo + "/current" }
    public var shared: String { deployTo + "/shared" }
    /// shipit's own files: lock, history, failed marks, uploads in flight, strategy state.
    public var meta: String { deployTo + "/.shipit" }
    public var lock: String { meta + "/lock" }
    public var history: String { meta + "/history.jsonl" }
    public var failedMarks: String { meta + "/failed" }
    public var startLog: String { meta + "/start.log" }
    /// Image strategy: the running release, and every release created here (`<id> <ref>` lines).
    public var imageCurrent: String { meta + "/image-current" }
    public var imageReleases: String { meta + "/image-releases" }
    /// The traffic switch: the managed proxy's config, pid, logs and temp files; each slot's pid
    /// file and release, and which slot serves traffic.
    public var proxy: String { meta + "/proxy" }
    public var slots: String { meta + "/slots" }
    /// The supervisor's launchers (what each unit runs) and the copies of its unit files.
    public var units: String { meta + "/units" }
    public func release(_ id: String) -> String { releases + "/" + id }
    public func upload(_ id: String) -> String { meta + "/upload-" + id + ".tar.gz" }
    /// The artifact's manifest, sent with a full upload of a big release.
    public func uploadManifest(_ id: String) -> String { meta + "/upload-" + id + ".manifest" }
    /// Migrations copied out of an image on the migration host.
    public func imageMigrations(_ id: String) -> String { meta + "/migrations-" + id }
    /// Each release's environment (`env:` and `secrets:`), mode 0600 in a 0700 directory, outside
    /// the release so `verify` checks the code alone; removed with the release.
    public var releaseEnvs: String { meta + "/env" }
    public func releaseEnv(_ id: String) -> String { releaseEnvs + "/" + id }
    /// Where the image strategy's env file goes (mode 0600, never printed).
    public func envFile(app: String) -> String { shared + "/.env-" + app }
}
