import ArgumentParser
import FoundationEssentials
import ShipitCore
import ShipitSupport

struct LogsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "logs",
        abstract: "The app's logs from every host at once, merged by time, each line with its host.",
        discussion: """
            Where the logs are is `logs:` in shipit.yml (a file, a command such as journalctl, or the
            container's logs; docs/logs.md). Lines are read where they are, filtered on the host (time
            window, --grep), at most --max-bytes per host (the newest), redacted, and merged by the
            ISO-8601 time each starts with. --follow streams new lines until Ctrl-C.
            """
    )

    @OptionGroup var common: ConfigOptions

    @Option(name: .long, help: ArgumentHelp("How far back: 30s, 10m, 2h, 1d (default 10m).", valueName: "duration"))
    var since: String?

    @Option(
        name: .long,
        help: ArgumentHelp("Only lines matching this POSIX extended regular expression (grep -E).", valueName: "regex"))
    var grep: String?

    @Option(
        name: .long,
        help: ArgumentHelp(
            "Only this role's logs, from the hosts with it (hosts[].roles): a process role's own log (roles.<name>.log), else the app's.",
            valueName: "role"))
    var role: String?

    @Option(name: .long, help: ArgumentHelp("Only these hosts (comma-separated, from the config).", valueName: "host"))
    var host: String?

    @Option(
        name: .long,
        help: ArgumentHelp(
            "The window of this release: from its switch to the next (from the ledger).", valueName: "id"))
    var release: String?

    @Flag(name: .long, help: "Stream new lines as they come, until interrupted.")
    var follow = false

    @Option(
        name: .customLong("max-bytes"),
        help: ArgumentHelp("The most taken from one host (the newest lines).", valueName: "bytes"))
    var maxBytes: Int?

    func run() async throws {
        try FlagRange.check(maxBytes, flag: "--max-bytes", 1024...(256 << 20), unit: "bytes")
        if let since { _ = try UTCTime.window(since: since, from: nil, to: nil) }
        var config = try await common.loadMaskingSecrets()
        try HostSelection(role: role, host: host).apply(to: &config)
        let hosts = config.hosts
        if let grep, grep.contains("\n") { throw ShipitError.input("--grep: one line, please") }
        if follow, release != nil || since != nil {
            throw ShipitError.input("--follow: shows new lines only (no --since or --release)")
        }
        let (from, until) = try await window(config)
        if follow { return try await followLogs(config, hosts: hosts) }
        let result = await withFleet(config) { transport in
            await FleetLogs(config: config, transport: transport, hosts: hosts, role: role).fetch(
                since: from, until: until, grep: grep, maxBytes: maxBytes)
        }
        render(result, hosts: hosts)
        if !result.failed.isEmpty { throw ExitCode(ShipitExit.failure.rawValue) }
    }

    func window(_ config: DeployConfig) async throws -> (Date?, Date?) {
        if let release {
            guard since == nil else { throw ShipitError.input("--release and --since: give one or the other") }
            try Names.identifier(release, field: "--release")
            let (ledger, status) = await LedgerAccess.forReading(config)
            guard let ledger else { throw ShipitError("--release needs the ledger (\(status))") }
            let attempts = try await ledger.attempts(LedgerQuery(app: config.app, stage: .some(config.stage)))
            guard let w = ReleaseWindow.find(release, in: attempts) else {
                throw ShipitError.input("--release: the ledger has no successful switch to \(release)")
            }
            return (w.since, w.until)
        }
        let (start, _) = try UTCTime.window(since: since ?? "10m", from: nil, to: nil)
        return (start, nil)
    }

    func render(_ r: FleetLogs.Result, hosts: [String]) {
        let console = Console.shared
        if common.json {
            for line in r.lines { JSONOutput.printLine(line) }
        } else {
            let width = hosts.map(\.count).max() ?? 0
            for line in r.lines { console.out(Self.text(line, width: width)) }
        }
        for h in hosts {
            for note in r.notes[h] ?? [] { console.err("shipit logs: \(h): \(note)") }
            if let why = r.failed[h] { console.err("shipit logs: \(h): FAILED: \(why)") }
        }
    }

    /// `host | line`, the hosts in one column.
    static func text(_ line: LogLine, width: Int) -> String {
        "\(line.host.padded(toLength: width)) | \(line.text)"
    }

    func followLogs(_ config: DeployConfig, hosts: [String]) async throws {
        Signals.install()
        let interrupt = InterruptFlag()
        let width = hosts.map(\.count).max() ?? 0
        let json = common.json
        let failed = await withFleet(config) { transport in
            await FleetLogs(config: config, transport: transport, hosts: hosts, role: role).follow(
                grep: grep, stop: { interrupt.isRaised }
            ) { line in
                if json { JSONOutput.printLine(line) } else { Console.shared.out(Self.text(line, width: width)) }
            }
        }
        for (h, why) in failed.sorted(by: { $0.key < $1.key }) where !interrupt.isRaised || !why.contains("closed") {
            Console.shared.err("shipit logs: \(h): FAILED: \(why)")
        }
        if !failed.isEmpty && !interrupt.isRaised { throw ExitCode(ShipitExit.failure.rawValue) }
    }
}
