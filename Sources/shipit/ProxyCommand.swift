import ArgumentParser
import ShipitCore

struct ProxyCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "proxy",
        abstract: "The host-wide front door's servers of this app.",
        subcommands: [ProxyRemoveCommand.self]
    )
}

struct ProxyRemoveCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "remove",
        abstract:
            "Take this app's servers out of every host's front door; the other apps' are tested and reloaded, and keep serving."
    )

    @OptionGroup var common: ConfigOptions

    func run() async throws {
        let config = try common.load()
        try FrontDoorRemoval.validate(config)
        let results = try await withFleet(config) { try await FrontDoorRemoval(config: config, transport: $0).run() }
        var failed = 0
        for h in config.hosts {
            switch results[h] {
            case nil:
                Console.shared.out("\(h): runs no app: no front door, left as it is")
            case .success(let what)?:
                let said =
                    [
                        "removed": "removed from the front door",
                        "stopped": "removed; no app left, the front door stopped",
                        "absent": "not in the front door",
                    ][what] ?? what
                Console.shared.out("\(h): \(said)")
            case .failure(let e)?:
                failed += 1
                Console.shared.out("\(h): FAILED: \(e.message)")
            }
        }
        if failed > 0 { throw ExitCode(ShipitExit.failure.rawValue) }
    }
}
