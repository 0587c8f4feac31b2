import SSH
import ArgumentParser
import FoundationEssentials
import ShipitCore

struct ExecCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "exec",
        abstract: "Run a command on every host in parallel.",
        discussion: """
        One argument is a shell command line, run as is (pipes and ';' work): shipit exec -- 'df -h | tail -1'
        Several arguments are an argv, each quoted: shipit exec -- ls -l "my dir"
        Output lines are prefixed with the host ('|' stdout, '!' stderr), secrets redacted, control
        characters shown (as \\x1b), not sent to the terminal. --json: one JSON object per output line
        ({"host","stream","line"}) and per host at the end ({"event":"result",…}), the text exact.
        Exits 1 if any host failed.
        Without --hosts, the hosts and ssh settings of the config (--config, default shipit.yml);
        --roles worker: only its hosts with that role.
        """
    )

    @OptionGroup var hostOptions: HostOptions

    @Option(name: .long, help: ArgumentHelp("Config whose hosts and ssh settings to use when --hosts is not given.", valueName: "file"))
    var config: String?

    @Option(name: .long, help: "Stage overlay of the config: merges shipit.<stage>.yml over it.")
    var stage: String?

    @Option(name: .long, help: ArgumentHelp("Only the config's hosts with one of these roles (a host without roles is 'web').", valueName: "role,…"))
    var roles: String?

    @Option(name: .long, help: "Seconds the command may run on each host.")
    var timeout: Double?

    @Flag(name: .long, help: "Print NDJSON: one object per output line, then one per host's result.")
    var json = false

    @Argument(parsing: .postTerminator, help: "The command to run.")
    var command: [String] = []

    func run() async throws {
        try await execute()
    }

    /// `--hosts` with flags alone, or the config's hosts (filtered by `--roles`) and ssh settings.
    private func targets() throws -> ([String], ConnectionSettings) {
        if let hostList = hostOptions.hosts {
            guard roles == nil else { throw ShipitError.input("--roles: picks hosts from the config; give --hosts or --roles, not both") }
            return (try HostName.parseList(hostList, field: "--hosts"), ConnectionSettings())
        }
        let file = config ?? "shipit.yml"
        guard config != nil || stage != nil || roles != nil || FileManager.default.fileExists(atPath: file) else {
            throw ShipitError.input("--hosts: no hosts given (and no shipit.yml here to take them from)")
        }
        var cfg = try DeployConfig.load(file: file, stage: stage)
        if let roles { try cfg.select(roles: roles, wholeHosts: false) }
        return (cfg.hosts, cfg.connection)
    }

    private func execute() async throws {
        try hostOptions.checkFlags()
        try FlagRange.positive(timeout, flag: "--timeout", max: 86400)
        guard !command.isEmpty else { throw ShipitError.input("no command given (put it after --)") }
        let (hosts, base) = try targets()
        let settings = try hostOptions.apply(to: base)
        try settings.validate()
        try settings.checkHostNames(hosts)

        let remote = command.count == 1
            ? RemoteCommand(script: command[0], timeout: timeout)
            : RemoteCommand(command, timeout: timeout)
        let fleet = Fleet(hosts: hosts, settings: settings)
        let width = hosts.map(\.count).max() ?? 0
        let console = Console.shared
        let json = self.json
        let outcomes = await ExecRunner(fleet: fleet).run(remote) { host, stream, line in
            if json { return JSONOutput.printLine(OutputLine(host: host, stream: stream == .stdout ? "stdout" : "stderr", line: line)) }
            let label = host.padded(toLength: width)
            if stream == .stdout { console.out("\(label) | \(line)") } else { console.err("\(label) ! \(line)") }
        }
        await fleet.closeAll()

        let failed = outcomes.filter { !$0.succeeded }
        if json {
            for o in outcomes {
                JSONOutput.printLine(HostResult(host: o.host, ok: o.succeeded, exitCode: o.status?.code, signal: o.status?.signal, error: o.error, seconds: o.seconds))
            }
            if !failed.isEmpty { throw ExitCode(ShipitExit.failure.rawValue) }
            return
        }
        for o in failed {
            let why = o.error ?? (o.status?.signal.map { "killed by signal \($0)" } ?? "exit \(o.status?.code ?? -1)")
            console.err("FAILED \(o.host): \(why) (\(Console.seconds(o.seconds)))")
        }
        if !failed.isEmpty {
            console.err("shipit exec: \(failed.count) of \(hosts.count) host(s) failed: \(failed.map(\.host).joined(separator: ", "))")
            throw ExitCode(ShipitExit.failure.rawValue)
        }
    }

    /// `--json`: one line of a host's output.
    struct OutputLine: Encodable {
        let host: String
        let stream: String
        let line: String
    }

    /// `--json`: how the command ended on one host.
    struct HostResult: Encodable {
        var event = "result"
        let host: String
        let ok: Bool
        let exitCode: Int32?
        let signal: String?
        let error: String?
        let seconds: Double
    }
}
