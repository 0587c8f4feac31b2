import ArgumentParser
import FoundationEssentials
import ShipitCore

struct StatusCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status",
        abstract:
            "Per host: current release, health (live/ready), supervisor, lock; and drift. Exits 7 on drift or an unhealthy host."
    )

    @OptionGroup var common: ConfigOptions

    func run() async throws {
        let config = try common.load()
        let hosts = await FleetSnapshot.take(
            config, .init(health: config.health != nil || !config.processRoles.isEmpty))
        let verdict = FleetVerdict(hosts)
        if common.json {
            JSONOutput.print(
                FleetSnapshot(app: config.app, stage: config.stage, time: Date(), hosts: hosts, verdict: verdict))
        } else {
            let state = verdict.ok ? "OK" : (verdict.drift ? "DRIFT" : "UNHEALTHY")
            Console.shared.out(
                "\(config.app)\(config.stage.map { " (\($0))" } ?? ""): \(hosts.count) host(s), \(verdict.release.map { "release \($0)" } ?? "no single release"): \(state)"
            )
            let traffic = config.traffic != nil
            let roles = !config.processRoles.isEmpty
            // Where a host reports one (the symlink strategy's hosts do).
            let supervisor = hosts.contains { $0.supervisor != nil }
            var rows = [
                ["HOST", "CURRENT"] + (traffic ? ["SLOT", "WARM STANDBY"] : []) + ["LIVE", "READY"]
                    + (roles ? ["ROLES"] : []) + (supervisor ? ["SUPERVISOR"] : []) + ["LOCK"]
            ]
            for h in hosts {
                guard h.reachable else {
                    rows.append(
                        [h.host, "UNREACHABLE"] + (traffic ? ["-", "-"] : []) + ["-", "-"] + (roles ? ["-"] : [])
                            + (supervisor ? ["-"] : []) + ["-"])
                    continue
                }
                let lock =
                    h.lock.map {
                        "held by \($0.by ?? "?") for \($0.ageSeconds.map { "\($0)s" } ?? "?")\($0.stale == true ? " (stale: that run is over; the next deploy or rollback takes it over)" : "")"
                    } ?? "free"
                let slot =
                    (h.slot.map(String.init) ?? "-") + (h.maintenance == true ? " (maintenance)" : "")
                    + (h.requestSplit.map {
                        " (\($0) % of requests to \(h.standbySlot.map(String.init) ?? "the other slot"))"
                    } ?? "")
                let standby = h.standby.map { "\($0) on \(h.standbySlot.map(String.init) ?? "?")" } ?? "none"
                rows.append(
                    [h.host, h.current ?? "(none)"] + (traffic ? [slot, standby] : [])
                        + [h.live.map { $0.ok ? "ok" : "FAIL" } ?? "-", h.ready.map { $0.ok ? "ok" : "FAIL" } ?? "-"]
                        + (roles ? [h.rolesSummary ?? "-"] : [])
                        + (supervisor ? [h.supervisor?.summary ?? "-"] : [])
                        + [lock])
            }
            FleetSnapshot.table(rows)
            FleetSnapshot.printProblems(verdict)
        }
        if !verdict.ok { throw ExitCode(verdict.exitCode.rawValue) }
    }
}
