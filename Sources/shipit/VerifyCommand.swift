import ArgumentParser
import FoundationEssentials
import ShipitCore

struct VerifyCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "verify",
        abstract:
            "Post-deploy check for CI: every host healthy, all on one release, release files intact, supervision in place.",
        discussion:
            "Release files are checked against the sha256 manifest written at deploy time; under systemd, every unit that should run (the serving slot's, the proxy's, each role's, the app's) must be active and enabled. Exits 7 if any check fails."
    )

    @OptionGroup var common: ConfigOptions

    func run() async throws {
        let config = try common.load()
        let hosts = await FleetSnapshot.take(
            config, .init(health: config.health != nil || !config.processRoles.isEmpty, verifyFiles: true))
        let expected = await FleetSnapshot.ledgerRelease(config)
        let verdict = FleetVerdict(hosts, checkFiles: true, checkSupervisor: true, expectedRelease: expected)
        if common.json {
            JSONOutput.print(
                FleetSnapshot(app: config.app, stage: config.stage, time: Date(), hosts: hosts, verdict: verdict))
        } else {
            for h in hosts {
                guard h.reachable else {
                    Console.shared.out("\(h.host): UNREACHABLE")
                    continue
                }
                let health =
                    ([h.live.map { "live \($0.ok ? "ok" : "FAIL")" }, h.ready.map { "ready \($0.ok ? "ok" : "FAIL")" }]
                    .compactMap { $0 }
                    + [h.rolesSummary].compactMap { $0 }).joined(separator: ", ")
                let slot = h.slot.map { "  slot \($0)" + (h.standby.map { ", standby \($0)" } ?? "") } ?? ""
                let supervisor = h.supervisor.map { "  supervisor \($0.summary)" } ?? ""
                Console.shared.out(
                    "\(h.host): \(h.current ?? "(none)")  \(health.isEmpty ? "no health check configured" : health)  files \(h.files?.status ?? "?")\(slot)\(supervisor)"
                )
            }
            if verdict.ok {
                let supervised = hosts.contains { $0.supervisor?.isSystemd == true }
                Console.shared.out(
                    "verify: OK: \(hosts.count) host(s) healthy on \(verdict.release ?? "?"), release files intact\(supervised ? ", supervised units active and enabled" : "")"
                )
            } else {
                Console.shared.out("verify: FAILED")
                FleetSnapshot.printProblems(verdict)
            }
        }
        if !verdict.ok { throw ExitCode(verdict.exitCode.rawValue) }
    }
}
