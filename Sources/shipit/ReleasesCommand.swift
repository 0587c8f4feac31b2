import ArgumentParser
import FoundationEssentials
import ShipitCore

struct ReleasesCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "releases",
        abstract: "Per host: the releases present, current, previous (the rollback target) and failed ones."
    )

    @OptionGroup var common: ConfigOptions

    func run() async throws {
        let config = try common.load()
        let hosts = await FleetSnapshot.take(config, .init())
        if common.json {
            JSONOutput.print(
                FleetSnapshot(app: config.app, stage: config.stage, time: Date(), hosts: hosts, verdict: nil))
        } else {
            for h in hosts {
                guard h.reachable else {
                    Console.shared.out("\(h.host): UNREACHABLE: \(h.error ?? "?")")
                    continue
                }
                Console.shared.out(
                    "\(h.host): current \(h.current ?? "(none)"), previous \(h.previous ?? "(none)")\(h.lock != nil ? ", LOCKED" : "")"
                )
                for r in h.releases.reversed() {
                    var marks: [String] = []
                    if r == h.current { marks.append("current") }
                    if r == h.previous { marks.append("previous") }
                    if h.failed.contains(r) { marks.append("failed") }
                    if r == h.current, let slot = h.slot { marks.append("serving on slot \(slot)") }
                    if r == h.standby { marks.append("warm standby on slot \(h.standbySlot.map(String.init) ?? "?")") }
                    Console.shared.out("    \(r)\(marks.isEmpty ? "" : "  (\(marks.joined(separator: ", ")))")")
                }
            }
        }
        if hosts.contains(where: { !$0.reachable }) { throw ExitCode(ShipitExit.failure.rawValue) }
    }
}
