import ArgumentParser
import FoundationEssentials
import ShipitCore

struct CheckCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check",
        abstract:
            "Check every host before a deploy, changing nothing: connection, host key, auth, deploy_to, disk, tools, supervisor, lock, clock.",
        discussion: """
            Pre-flight alone, on every host in parallel, with one exec channel per host. Prints a table of
            what passed and what to do about what did not. Exits 0 when every host is ready, 3 when a
            check failed on some host (a warning does not fail). --fix creates deploy_to and its layout
            (releases/, shared/) where missing and, for a supervisor's user units, makes the deploy user
            linger (loginctl enable-linger, where polkit allows it; else the check says what to run as
            root), and nothing else.
            """
    )

    @OptionGroup var common: ConfigOptions

    @Flag(
        name: .long,
        help:
            "Create deploy_to and its layout where missing; make the deploy user linger for user units (nothing else)."
    )
    var fix = false

    @Option(name: .customLong("min-free"), help: ArgumentHelp("Free space deploy_to needs, in MiB.", valueName: "MiB"))
    var minFree: Int = 100

    func run() async throws {
        // MiB, turned into KB for the host's df: 16 TiB is more than any deploy needs.
        try FlagRange.check(minFree, flag: "--min-free", 0...(16 << 20), unit: "MiB")
        let config = try common.load()
        let report = await withFleet(config) { transport in
            var check = FleetCheck(config: config, transport: transport)
            check.fix = fix
            check.minFreeKB = Int64(minFree) * 1024
            return await check.run()
        }
        if common.json { JSONOutput.print(report) } else { Console.shared.out(report.render()) }
        if !report.passed { throw ExitCode(ShipitExit.preflightFailed.rawValue) }
    }
}
