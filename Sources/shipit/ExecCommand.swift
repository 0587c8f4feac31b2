import ArgumentParser
import FoundationEssentials
import ShipitCore
import ShipitSupport

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
            --roles worker: only its hosts with that role; --host H: that one host.
            --release current: in the serving release's directory, with the environment the app's start
            command gets (PORT, SHIPIT_BIND, SHIPIT_RELEASE…; symlink strategy).
            -t: a pseudo-terminal for an interactive command on one host, like `ssh -t` (its output
            as it comes, the values of secrets masked):
              shipit exec -t --host web-1 --release current -- bin/rails console
            """
    )

    @OptionGroup var hostOptions: HostOptions

    @Option(
        name: .long,
        help: ArgumentHelp("Config whose hosts and ssh settings to use when --hosts is not given.", valueName: "file"))
    var config: String?

    @Option(name: .long, help: "Stage overlay of the config: merges shipit.<stage>.yml over it.")
    var stage: String?

    @Option(
        name: .long,
        help: ArgumentHelp(
            "Only the config's hosts with one of these roles (a host without roles is 'web').", valueName: "role,…"))
    var roles: String?

    @Option(name: .long, help: "Seconds the command may run on each host.")
    var timeout: Double?

    @Option(name: .long, help: "One host: of the config (its ssh settings apply), or any host with the ssh flags.")
    var host: String?

    @Option(
        name: .long,
        help: ArgumentHelp(
            "'current': run in the serving release's directory with the app's start environment.", valueName: "current")
    )
    var release: String?

    @Flag(
        name: [.customShort("t"), .customLong("tty")],
        help: "A pseudo-terminal for an interactive command (a console, psql), on one host.")
    var tty = false

    @Flag(name: .long, help: "Print NDJSON: one object per output line, then one per host's result.")
    var json = false

    @Argument(parsing: .postTerminator, help: "The command to run.")
    var command: [String] = []

    func run() async throws {
        try await execute()
    }

    /// The command as shell text, in the serving release when `--release current` says so.
    private func commandText(host: String, config: DeployConfig?) throws -> String {
        let text = command.count == 1 ? command[0] : "exec " + ShellQuote.join(command)
        guard let release else { return text }
        guard release == "current" else {
            throw ShipitError.input("--release: only 'current' (the serving release) is supported")
        }
        return try CurrentRelease.command(text, host: host, config: config)
    }

    /// `-t`: one host, its command on a pseudo-terminal wired to this terminal (raw mode while it
    /// runs, so keys like Ctrl-C reach the remote program). Exits with the command's status.
    private func interactive(host: String, settings: ConnectionSettings, config: DeployConfig?) async throws {
        let text = try commandText(host: host, config: config)
        let size = LocalTerminal.size()
        let term = ProcessInfo.processInfo.environment["TERM"].flatMap { $0.isEmpty ? nil : $0 } ?? "xterm"
        // The terminal's bytes go out as they come, escapes included (it is a terminal), but the
        // values of secrets do not.
        let redactor = config.map { Redactor(config: $0) } ?? Redactor()
        let result = await RemoteTerminal.run(
            text, host: host, settings: settings, term: term, columns: size.columns, rows: size.rows,
            mask: SecretStreamMask(redactor: redactor), connected: { LocalTerminal.makeRaw() })
        switch result {
        case .success(let status):
            if status.code != 0 || status.signal != nil {
                throw ExitCode(status.signal == nil ? status.code : ShipitExit.failure.rawValue)
            }
        case .failure(let error):
            Console.shared.err("FAILED \(host): \(ErrorText.withoutHost(error))")
            throw ExitCode(ShipitExit.failure.rawValue)
        }
    }

    private func execute() async throws {
        try hostOptions.checkFlags()
        try FlagRange.positive(timeout, flag: "--timeout", max: 86400)
        guard !command.isEmpty else { throw ShipitError.input("no command given (put it after --)") }
        let targets = try HostSelection(hosts: hostOptions.hosts, roles: roles, host: host).execTargets(
            configFile: config, stage: stage, inRelease: release != nil)
        let (hosts, cfg) = (targets.hosts, targets.config)
        await cfg?.resolveSecretsForMasking(warn: Console.shared.err)
        let settings = try hostOptions.apply(to: targets.connection)
        try settings.validate()
        try settings.checkHostNames(hosts)
        if tty {
            guard hosts.count == 1 else { throw ShipitError.input("-t: a terminal is for one host: give --host H") }
            return try await interactive(host: hosts[0], settings: settings, config: cfg)
        }

        // Each host's own: in the serving release, the environment names the host.
        var perHost: [String: RemoteCommand] = [:]
        for h in hosts {
            perHost[h] =
                release == nil
                ? (command.count == 1
                    ? RemoteCommand(script: command[0], timeout: timeout) : RemoteCommand(command, timeout: timeout))
                : RemoteCommand(script: try commandText(host: h, config: cfg), timeout: timeout)
        }
        let commands = perHost
        let fleet = Fleet(hosts: hosts, settings: settings)
        let width = hosts.map(\.count).max() ?? 0
        let console = Console.shared
        let json = self.json
        let outcomes = await ExecRunner(fleet: fleet).run({ commands[$0]! }) { host, stream, line in
            if json {
                return JSONOutput.printLine(
                    OutputLine(host: host, stream: stream.name, line: line))
            }
            let label = host.padded(toLength: width)
            if stream.isStdout { console.out("\(label) | \(line)") } else { console.err("\(label) ! \(line)") }
        }
        await fleet.closeAll()

        let failed = outcomes.filter { !$0.succeeded }
        if json {
            for o in outcomes {
                JSONOutput.printLine(
                    HostResult(
                        host: o.host, ok: o.succeeded, exitCode: o.exitCode, signal: o.signal,
                        error: o.error, seconds: o.seconds))
            }
            if !failed.isEmpty { throw ExitCode(ShipitExit.failure.rawValue) }
            return
        }
        for o in failed {
            let why = o.error ?? (o.signal.map { "killed by signal \($0)" } ?? "exit \(o.exitCode ?? -1)")
            console.err("FAILED \(o.host): \(why) (\(Console.seconds(o.seconds)))")
        }
        if !failed.isEmpty {
            console.err(
                "shipit exec: \(failed.count) of \(hosts.count) host(s) failed: \(failed.map(\.host).joined(separator: ", "))"
            )
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
