import FoundationEssentials
import Glibc
import SSH

/// `shipit logs`: every host's lines of the window at once, merged by time with the host named on
/// each; or, following, new lines as they arrive. Every line is redacted.
public struct FleetLogs: Sendable {
    public let config: DeployConfig
    public let transport: HostTransport
    public let hosts: [String]
    /// Only this role's logs (`--role`): a process role's log file, or the app's source.
    public let role: String?
    let redactor: Redactor

    public struct Result: Sendable {
        public var lines: [LogLine]
        /// Per host: a missing file, a file read in part, output cut to the byte bound.
        public var notes: [String: [String]]
        /// Hosts that could not be read, and why.
        public var failed: [String: String]
    }

    public init(config: DeployConfig, transport: HostTransport, hosts: [String], role: String? = nil) {
        self.config = config
        self.transport = transport
        self.hosts = hosts
        self.role = role
        self.redactor = Redactor(config: config)
    }

    /// What is read on `host`: the app's source (a host that runs the app) and the log of each of
    /// its role processes (unless the app's file pattern already covers it).
    func sources(on host: String) -> [LogScript] {
        let roles = config.hostRoles
        let app = LogScript(config: config)
        let isProcessRole = role.map { r in config.processRoles.contains { $0.name == r } } ?? false
        let wantApp = !isProcessRole && roles.runsApp(host)
        var out = wantApp ? [app] : []
        for p in roles.processes(on: host) where role == nil || p.name == role {
            if p.logSource == nil, wantApp, case .file(let pattern) = config.logs.source,
                fnmatch(pattern, p.log, 0) == 0
            {
                continue
            }
            out.append(app.reading(config.logSource(of: p)))
        }
        return out
    }

    /// Each host's sources, as jobs keyed "host NUL index".
    private func jobs(_ command: (LogScript) -> RemoteCommand) -> [String: (host: String, command: RemoteCommand)] {
        var jobs: [String: (host: String, command: RemoteCommand)] = [:]
        for host in hosts {
            for (i, s) in sources(on: host).enumerated() { jobs["\(host)\u{0}\(i)"] = (host, command(s)) }
        }
        return jobs
    }

    public func fetch(since: Date?, until: Date?, grep: String?, maxBytes: Int? = nil) async -> Result {
        let jobs = jobs { $0.fetch(since: since, until: until, grep: grep, maxBytes: maxBytes) }
        let bound = maxBytes ?? config.logs.maxBytes
        let results = await Fleet.bounded(jobs.keys.sorted(), limit: max(config.connection.parallel, 64)) { key in
            do {
                return Swift.Result<ExecResult, Error>.success(
                    try await transport.run(jobs[key]!.host, jobs[key]!.command))
            } catch { return .failure(error) }
        }
        var lines: [LogLine] = []
        var notes: [String: [String]] = [:]
        var failed: [String: String] = [:]
        for key in jobs.keys.sorted() {
            let host = jobs[key]!.host
            switch results[key] {
            case .success(let r)?:
                let out = ScriptOutput(r.stdoutText)
                if !r.status.succeeded {
                    failed[host] = out.first(.error) ?? "exit \(r.exitCode)"
                    continue
                }
                notes[host, default: []] += ScriptOutput(r.stderrText).all(.note)
                var data = r.stdout
                if data.count > bound {
                    // One byte over the bound says it was cut: drop the partial first line.
                    if let nl = data.firstIndex(of: 10) { data = data[data.index(after: nl)...] }
                    notes[host, default: []].append("output cut to the newest \(bound) bytes (--max-bytes)")
                }
                lines += Self.parse(host: host, data, redactor: redactor)
            case .failure(let e)?: failed[host] = ErrorText.withoutHost(e)
            case nil: failed[host] = "not run"
            }
        }
        return Result(lines: Self.merge(lines, order: hosts), notes: notes, failed: failed)
    }

    /// A host's lines; one without a time takes the time of the line before it.
    static func parse(host: String, _ data: Data, redactor: Redactor) -> [LogLine] {
        var out: [LogLine] = []
        var last: Date?
        for raw in String(decoding: data, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: true) {
            let t = LogLine.time(at: raw)
            if t != nil { last = t }
            out.append(LogLine(host: host, time: t ?? last, text: redactor.redact(String(raw))))
        }
        return out
    }

    /// By time; equal times keep host order, then each host's own order (a stable sort).
    static func merge(_ lines: [LogLine], order: [String]) -> [LogLine] {
        let rank = Dictionary(uniqueKeysWithValues: order.enumerated().map { ($1, $0) })
        return lines.enumerated().sorted { a, b in
            let ta = a.element.time ?? .distantPast
            let tb = b.element.time ?? .distantPast
            if ta != tb { return ta < tb }
            let ra = rank[a.element.host] ?? 0
            let rb = rank[b.element.host] ?? 0
            if ra != rb { return ra < rb }
            return a.offset < b.offset
        }.map(\.element)
    }

    /// Streams new lines from every host until `stop()`; `onLine` is called as each arrives.
    /// Returns the hosts that failed, and why.
    public func follow(
        grep: String?, stop: @escaping @Sendable () -> Bool,
        onLine: @escaping @Sendable (LogLine) -> Void
    ) async -> [String: String] {
        // One script per host reading all its sources: a follow holds its host's session (whose
        // operations run one at a time) until the end.
        var commands: [String: RemoteCommand] = [:]
        for host in hosts {
            let sources = sources(on: host)
            if !sources.isEmpty { commands[host] = LogScript.follow(sources, grep: grep) }
        }
        let plans = commands
        let redactor = self.redactor
        let results = await Fleet.bounded(plans.keys.sorted(), limit: max(plans.count, 1)) { host in
            let command = plans[host]!
            let splitter = StreamLines()
            do {
                _ = try await transport.follow(host, command, until: stop) { stream, data in
                    for raw in splitter.lines(stream, data) {
                        if stream == .stderr, raw.hasPrefix("note=") {
                            onLine(LogLine(host: host, time: nil, text: "(\(raw.dropFirst(5)))"))
                            continue
                        }
                        onLine(LogLine(host: host, time: LogLine.time(at: raw[...]), text: redactor.redact(raw)))
                    }
                }
                return String?.none
            } catch {
                return ErrorText.withoutHost(error)
            }
        }
        return results.compactMapValues { $0 }
    }
}

/// A `LineSplitter` per stream, safe to feed from the session's queue.
final class StreamLines: @unchecked Sendable {
    private var out = LineSplitter(), err = LineSplitter()
    private let lock = Lock()

    func lines(_ stream: OutputChannel, _ chunk: Data) -> [String] {
        lock.withLock { stream == .stdout ? out.feed(chunk) : err.feed(chunk) }
    }
}
