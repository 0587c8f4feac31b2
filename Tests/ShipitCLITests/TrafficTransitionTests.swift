import Foundation
import ShipitCore
import TestSupport
import Testing

/// `traffic:` added to the config of an app that runs without it, then taken out again, under a
/// bounded load: each deploy succeeds, and the public port answers throughout except for the gap
/// while its owner changes (the old app stopped, then the proxy bound; and back).
@Suite("turning the traffic switch on and off for a running app")
struct TrafficTransitionTests {
    static let traffic = "traffic: {proxy: nginx, drain: 1}"
    /// Milliseconds a hand-over of the public port may leave it without a listener: less than the
    /// script's 10 s wait for the old app to exit, after which it KILLs it. (The proxy's 5 s wait
    /// to bind fails the deploy instead.) A stop and a start take some 100 ms alone and up to 4.2 s
    /// measured on a CI machine running the whole suite.
    static let handOverBound = 10000

    /// The gap a hand-over reports in the switch step's line ("… (N ms …").
    private func gaps(_ output: String, _ phrase: String) -> [Int] {
        output.components(separatedBy: phrase).dropFirst().compactMap {
            Int($0.drop { !$0.isNumber }.prefix { $0.isNumber })
        }
    }

    /// Headers and body of GET / on the public port, from the deployer.
    private func get(_ host: String, _ port: Int) async -> String {
        (try? await Local.run(["curl", "-s", "-i", "--max-time", "3", "http://\(host):\(port)/"])) ?? ""
    }

    @Test func onThenOffUnderLoad() async throws {
        let f = try DeployFixture(healthDeadline: 3)
        try await withCleanup({ await f.cleanUp() }) {
            let plain = try String(contentsOfFile: f.configFile, encoding: .utf8)
            #expect(try await f.shipit(["deploy", "--from", f.release("v1")]).status == 0)
            for h in f.targets { #expect(await get(h, f.port).contains("releases-example v1")) }
            let load = try LoadGenerator(targets: f.targets, port: f.port)

            try (plain + "\n" + Self.traffic + "\n").write(toFile: f.configFile, atomically: true, encoding: .utf8)
            let on = try await f.shipit(["deploy", "--from", f.release("v2")])
            #expect(on.status == 0, "\(on.stdout)\(on.stderr)")
            let onGaps = gaps(on.stdout, "the proxy took over the public port from the app (")
            // The hand-over is a stop and a start, never a wait that ran into the old app's KILL.
            #expect(onGaps.count == f.targets.count && onGaps.allSatisfy { $0 < Self.handOverBound }, "\(on.stdout)")
            for h in f.targets {
                let answer = await get(h, f.port)
                #expect(
                    answer.contains("releases-example v2") && answer.lowercased().contains("x-shipit-slot"),
                    "\(h): \(answer)")
                // The app that held the port before is gone: nothing but the slot's app and the proxy.
                let legacy = try await f.sh(
                    h,
                    "p=$(cat \(f.deployTo)/shared/app.pid 2>/dev/null); [ -n \"$p\" ] && ps -o pid=,args= -p $p || echo gone"
                )
                #expect(legacy == "gone\n" || !legacy.contains("--port \(f.port) "), "\(h): \(legacy)")
            }
            // A second deploy behind the switch is an ordinary one.
            #expect(try await f.shipit(["deploy", "--from", f.release("v1")]).status == 0)

            try plain.write(toFile: f.configFile, atomically: true, encoding: .utf8)
            let off = try await f.shipit(["deploy", "--from", f.release("v2")])
            #expect(off.status == 0, "\(off.stdout)\(off.stderr)")
            let offGaps = gaps(off.stdout, "the proxy was retired; the app took over the public port (")
            #expect(offGaps.count == f.targets.count && offGaps.allSatisfy { $0 < Self.handOverBound }, "\(off.stdout)")
            for h in f.targets {
                let answer = await get(h, f.port)
                #expect(
                    answer.contains("releases-example v2") && !answer.lowercased().contains("x-shipit-slot"),
                    "\(h): \(answer)")
                #expect(
                    try await f.sh(h, "ls \(f.deployTo)/.shipit/slots/*.pid 2>/dev/null | wc -l").trimmingCharacters(
                        in: .whitespacesAndNewlines) == "0")
            }
            let r = try await load.finish()
            // The port answered throughout, but for the two hand-overs the switch reported. (A
            // refused connection fails at once, so the count of failed requests says little about
            // the gap's length: three threads retry a refused port thousands of times a second.)
            #expect(r.requests > 300, "\(r)")
            // What a hand-over costs: refused connections, and requests in flight at that moment
            // cut (reset, closed, or a 502 from the proxy whose upstream went away); nothing else.
            #expect(
                r.errors.allSatisfy {
                    ["refused", "reset", "closed", "Disconnected", "HTTP 502"].contains(where: $0.contains)
                }, "\(r.errors)")
            #expect((r.versions["v1"] ?? 0) > 0 && (r.versions["v2"] ?? 0) > 0, "\(r.versions)")
            print(
                "traffic on/off under load: \(r.requests) requests, \(r.failed) failed; gaps on \(onGaps) ms, off \(offGaps) ms"
            )
        }
    }
}
