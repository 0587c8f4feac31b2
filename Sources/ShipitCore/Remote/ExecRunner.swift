import FoundationEssentials
import SSH

/// `shipit exec`: one command on every host in parallel, output streamed line by line per host.
public struct ExecRunner: Sendable {
    public struct HostOutcome: Sendable {
        public let host: String
        public let status: ExitStatus?
        public let error: String?
        public let seconds: Double
        public var succeeded: Bool { status?.succeeded == true && error == nil }
    }

    public let fleet: Fleet
    /// Output lines and errors are redacted before anyone sees them: a command that prints the
    /// environment or a config file must not put its secrets on the operator's screen or CI log.
    public let redactor: Redactor

    public init(fleet: Fleet, redactor: Redactor = Redactor()) {
        self.fleet = fleet
        self.redactor = redactor
    }

    /// `onLine(host, stream, line)` is called for each complete output line, possibly concurrently
    /// from several hosts: the caller serialises printing.
    public func run(
        _ command: RemoteCommand,
        onLine: @escaping @Sendable (String, OutputChannel, String) -> Void
    ) async -> [HostOutcome] {
        await run({ _ in command }, onLine: onLine)
    }

    /// The same with a command of each host's own (one that names the host, say).
    public func run(
        _ commandFor: @escaping @Sendable (String) -> RemoteCommand,
        onLine: @escaping @Sendable (String, OutputChannel, String) -> Void
    ) async -> [HostOutcome] {
        let results = await fleet.forEachHost { host -> HostOutcome in
            let start = ContinuousClock.now
            func elapsed() -> Double { Self.seconds(ContinuousClock.now - start) }
            let command = commandFor(host)
            let timeout = command.timeout ?? fleet.settings.commandTimeout
            do {
                let session = try await fleet.session(host)
                let splitter = SplitterBox()
                let result = try await session.exec(command.rendered, timeout: timeout) { stream, data in
                    for line in splitter.feed(stream, data) {
                        onLine(host, stream, splitter.redact(stream, line, redactor))
                    }
                }
                for (stream, line) in splitter.finish() {
                    onLine(host, stream, splitter.redact(stream, line, redactor))
                }
                return HostOutcome(host: host, status: result.status, error: nil, seconds: elapsed())
            } catch {
                let why: String = redactor.redact(ErrorText.withoutHost(error))
                return HostOutcome(host: host, status: nil, error: why, seconds: elapsed())
            }
        }
        return fleet.hosts.compactMap { results[$0] }
    }

    static func seconds(_ d: Duration) -> Double {
        Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18
    }
}

/// One splitter per stream; called only from the owning session's queue, hence unchecked.
final class SplitterBox: @unchecked Sendable {
    private var out = LineSplitter()
    private var err = LineSplitter()
    private var outInKey = false
    private var errInKey = false

    func feed(_ stream: OutputChannel, _ data: Data) -> [String] {
        stream == .stdout ? out.feed(data) : err.feed(data)
    }

    func redact(_ stream: OutputChannel, _ line: String, _ redactor: Redactor) -> String {
        stream == .stdout
            ? redactor.redact(line: line, inPrivateKey: &outInKey)
            : redactor.redact(line: line, inPrivateKey: &errInKey)
    }

    func finish() -> [(OutputChannel, String)] {
        out.finish().map { (.stdout, $0) } + err.finish().map { (.stderr, $0) }
    }
}
