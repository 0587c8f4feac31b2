import Foundation
import ShipitCore
import TestSupport
import Testing

/// Ten hosts, one down through a deploy that tolerated it; back up, `shipit sync` moves it alone to
/// the fleet's release (the nine get no new switch) and `verify` passes on all ten. A host on a
/// release the ledger never recorded is reported, not overwritten, unless `--force`.
@Suite("faults: a revived host brought in line by sync", .serialized)
struct FaultSyncTests {
    let hosts = TestHosts.current
    /// The test's own hosts, next to the shared three (ten in all).
    let own = (61...67).map { "127.0.0.\($0)" }

    @Test func syncMovesTheStragglerAloneAndVerifyPassesOnAll() async throws {
        for h in own { try await hosts.harness(["start-host", h], environment: [:]) }
        let f = try DeployFixture(
            targets: hosts.hosts + own, extraYAML: "tolerate: {unreachable: 1}\nshared: [notes.txt]")
        let down = own[0]
        try await withCleanup({
            _ = try? await hosts.reviveHost(down)
            await f.cleanUp()
            for h in own { _ = try? await hosts.harness(["stop-host", h], environment: [:]) }
        }) {
            // A shared file on every host: linked into each release, never copied by sync.
            for h in f.targets {
                _ = try await f.sh(h, "mkdir -p \(f.deployTo)/shared && echo \(h) > \(f.deployTo)/shared/notes.txt")
            }
            let v1 = try await f.shipit(["deploy", "--from", f.release("v1")])
            #expect(v1.status == 0, "\(v1.stdout)")
            let v1ID = try await f.currentRelease(down)
            try await hosts.killHost(down)
            let v2 = try await f.shipit(["deploy", "--from", f.release("v2")])
            #expect(v2.status == ShipitExit.partial.rawValue, "\(v2.stdout)")
            let v2ID = try await f.currentRelease(hosts.hosts[0])
            #expect(v2ID != v1ID)

            // Triage names the skipped host, down and then back on its old release, with the fix.
            let whileDown = try await f.shipit(["triage", "--since", "1h"])
            #expect(whileDown.status == ShipitExit.unhealthy.rawValue, "\(whileDown.stdout)")
            #expect(
                whileDown.stdout.contains("left out of the deploy of \(v2ID)")
                    && whileDown.stdout.contains("once it is back, shipit sync --config"), "\(whileDown.stdout)")

            try await hosts.reviveHost(down)
            let triage = try await f.shipit(["triage", "--since", "1h"])
            #expect(
                triage.stdout.contains(
                    "\(down) [release/drift] runs \(v1ID), not the fleet's release \(v2ID)"),
                "\(triage.stdout)")
            #expect(
                triage.stdout.contains("shipit sync --config \(f.configFile) brings it in line"), "\(triage.stdout)")
            let status = try await f.shipit(["status"])
            #expect(status.status == ShipitExit.unhealthy.rawValue)
            #expect(status.stdout.contains("shipit sync"), "\(status.stdout)")
            let others = f.targets.filter { $0 != down }
            func histories() async throws -> [String] {
                var out: [String] = []
                for h in others { out.append(try await f.sh(h, "wc -l < \(f.deployTo)/.shipit/history.jsonl")) }
                return out
            }
            let before = try await histories()

            let sync = try await f.shipit(["sync"])
            #expect(sync.status == 0, "\(sync.stdout)\(sync.stderr)")
            #expect(sync.stdout.contains("\(v2ID) to \(down) (copied from"), "\(sync.stdout)")
            #expect(try await f.currentRelease(down) == v2ID)
            #expect(try await f.served(down) == "hello from releases-example v2")
            #expect(try await f.sh(down, "cat \(f.deployTo)/current/notes.txt") == "\(down)\n")
            // The nine: not a line more in their history (no switch, no run reached them).
            #expect(try await histories() == before)
            let verify = try await f.shipit(["verify"])
            #expect(verify.status == 0, "\(verify.stdout)\(verify.stderr)")

            // Nothing behind: a second sync changes nothing.
            let again = try await f.shipit(["sync"])
            #expect(again.status == 0 && again.stdout.contains("every reachable host runs \(v2ID)"), "\(again.stdout)")

            // A release someone put there by hand is reported and left, unless --force.
            _ = try await f.sh(
                down,
                "cp -a \(f.deployTo)/releases/\(v2ID) \(f.deployTo)/releases/handmade && ln -sfn releases/handmade \(f.deployTo)/current"
            )
            let foreign = try await f.shipit(["sync"])
            #expect(foreign.status == ShipitExit.unhealthy.rawValue)
            #expect(
                foreign.stderr.contains("\(down) runs handmade, a release the ledger never recorded"),
                "\(foreign.stderr)")
            #expect(try await f.currentRelease(down) == "handmade")
            let forced = try await f.shipit(["sync", "--force"])
            #expect(forced.status == 0, "\(forced.stdout)\(forced.stderr)")
            #expect(try await f.currentRelease(down) == v2ID)
        }
    }
}
