import Foundation
import ShipitCore
import TestSupport
import Testing

/// A worker that will not stop (issue 21): it ignores SIGTERM, so the next release's switch waits
/// the role's stop timeout, KILLs it (and its children), says so, and starts the new worker.
@Suite("faults: a worker that ignores SIGTERM")
struct FaultRolesTests {
    let hosts = TestHosts.current

    /// A web host and a worker host whose worker gets 2 s to stop.
    func webAndWorker(_ t: [String]) throws -> DeployFixture {
        try DeployFixture(
            targets: [t[0], t[1]], healthDeadline: 5,
            extraYAML: """
                roles:
                  worker:
                    cmd: sh worker.sh
                    status: sh worker.sh status
                    stop_timeout: 2
                """, roles: [t[0]: ["web"], t[1]: ["worker"]])
    }

    /// `version` as released, plus IGNORE_TERM: its worker traps SIGTERM and goes on.
    func stubbornRelease(_ f: DeployFixture, _ version: String) async throws -> String {
        let stubborn = Local.tempDir("stubborn") + "/" + version
        _ = try await Local.run(["cp", "-r", f.release(version), stubborn])
        try "ignore SIGTERM".write(toFile: stubborn + "/IGNORE_TERM", atomically: true, encoding: .utf8)
        return stubborn
    }

    @Test func aWorkerIgnoringSIGTERMIsKilledAfterItsStopTimeout() async throws {
        let t = hosts.hosts
        let f = try webAndWorker(t)
        let stubborn = try await stubbornRelease(f, "v1")
        try await withCleanup({ await f.cleanUp() }) {
            let v1 = try await f.shipit(["deploy", "--from", stubborn])
            #expect(v1.status == 0, "\(v1.stdout)\(v1.stderr)")
            let pid = try await f.sh(t[1], "cat \(f.deployTo)/.shipit/roles/worker.pid").trimmingCharacters(
                in: .whitespacesAndNewlines)

            let clock = ContinuousClock()
            let start = clock.now
            let v2 = try await f.shipit(["deploy", "--from", f.release("v2")])
            let took = clock.now - start
            #expect(v2.status == 0, "\(v2.stdout)\(v2.stderr)")
            #expect(
                v2.stdout.contains(
                    "\(t[1]) switch ok: restarted worker; worker ignored its stop signal until the stop timeout: killed"
                ), "\(v2.stdout)")
            #expect(took >= .seconds(2), "the stop timeout was waited for")
            // The old worker and everything in its session are gone; the new one is v2's.
            // (Processes of its group that are not zombies: the worker itself is a child of the leader.)
            let left = try await f.sh(
                t[1],
                "cat /proc/[0-9]*/stat 2>/dev/null | awk -v g=\(pid) '{ sub(/^.*\\) /, \"\"); if ($3 == g && $1 != \"Z\") n++ } END { print n + 0 }'"
            )
            #expect(left.trimmingCharacters(in: .whitespacesAndNewlines) == "0", "\(left)")
            let log = try await f.sh(t[1], "cat \(f.deployTo)/shared/log/worker.log")
            #expect(!log.contains("worker v1: stopping"), "v1 never stopped by itself: \(log)")
            let beat = try await f.sh(t[1], "cat \(f.deployTo)/shared/spool/worker.heartbeat")
            #expect(beat.hasPrefix("v2 "), "\(beat)")
            // The stubborn worker stops the same way on the way back.
            let back = try await f.shipit(["rollback"])
            #expect(back.status == 0, "\(back.stdout)\(back.stderr)")
            #expect(!back.stdout.contains("killed"), "v2's worker stops on SIGTERM: \(back.stdout)")
            let beatBack = try await f.sh(t[1], "sleep 0.5; cat \(f.deployTo)/shared/spool/worker.heartbeat")
            #expect(beatBack.hasPrefix("v1 "), "\(beatBack)")
        }
    }

    /// A rollback runs switch → smoke test per host: the web host is checked as soon as its own
    /// switch is done, while the worker host still waits for its stubborn worker (2 s); the
    /// states are recorded in order all the same.
    @Test func aRollbackSmokeTestsEachHostWithoutWaitingForTheSlowestSwitch() async throws {
        let t = hosts.hosts
        let f = try webAndWorker(t)
        let stubborn = try await stubbornRelease(f, "v2")
        try await withCleanup({ await f.cleanUp() }) {
            #expect(try await f.shipit(["deploy", "--from", f.release("v1")]).status == 0)
            let v2 = try await f.shipit(["deploy", "--from", stubborn])
            #expect(v2.status == 0, "\(v2.stdout)\(v2.stderr)")

            let back = try await f.shipit(["rollback"])
            #expect(back.status == 0, "\(back.stdout)\(back.stderr)")
            let lines = back.stdout.split(separator: "\n").map(String.init)
            func at(_ text: String) -> Int? { lines.firstIndex { $0.contains(text) } }
            let webChecked = try #require(at("\(t[0]) smoke test ok"), "\(back.stdout)")
            // The web host's port is probed from here; the worker host's check rode on its switch.
            #expect(!lines[webChecked].contains("checked at the end of the switch's script"), "\(back.stdout)")
            let workerSwitched = try #require(
                at("\(t[1]) switch ok: restarted worker; worker ignored its stop signal"), "\(back.stdout)")
            let workerChecked = try #require(
                at("\(t[1]) smoke test ok: checked at the end of the switch's script"), "\(back.stdout)")
            #expect(webChecked < workerSwitched, "the web host did not wait for the worker's switch: \(back.stdout)")
            #expect(workerSwitched < workerChecked)
            // Every state, in order, the smoke test's after the switch's.
            let switchToSmoke = try #require(at("state: switch → smokeTest"), "\(back.stdout)")
            #expect(
                workerSwitched < switchToSmoke && at("state: smokeTest → succeeded").map { $0 > switchToSmoke } == true)
            for h in [t[0]] { #expect(try await f.served(h) == "hello from releases-example v1") }
            let beat = try await f.sh(t[1], "sleep 0.5; cat \(f.deployTo)/shared/spool/worker.heartbeat")
            #expect(beat.hasPrefix("v1 "), "\(beat)")
        }
    }

    /// A rollback's worker check rides at the end of the worker host's switch script: a worker
    /// that never reports healthy there fails the rollback's smoke test with the role's own
    /// words, and the run puts every host back on the release it left (worker included).
    @Test func aRollbackWhoseWorkerFailsItsCheckInTheSwitchScriptGoesBack() async throws {
        let t = hosts.hosts
        let f = try webAndWorker(t)
        try await withCleanup({ await f.cleanUp() }) {
            #expect(try await f.shipit(["deploy", "--from", f.release("v1")]).status == 0)
            #expect(try await f.shipit(["deploy", "--from", f.release("v2")]).status == 0)
            let v1 = try #require(
                try await f.sh(t[1], "cd \(f.deployTo)/releases && ls | head -1").split(separator: "\n").first)
            // v1's worker, started again by the rollback, never reaches its queue.
            _ = try await f.sh(t[1], "echo fail > \(f.deployTo)/releases/\(v1)/WORKER_FAIL")

            let back = try await f.shipit(["rollback"])
            #expect(back.status == ShipitExit.rolledBack.rawValue, "\(back.stdout)\(back.stderr)")
            #expect(back.stdout.contains("\(t[1]) switch ok: restarted worker"), "\(back.stdout)")
            #expect(
                back.stdout.contains("\(t[1]) smoke test FAILED")
                    && back.stdout.contains("role worker: status exited 1"),
                "\(back.stdout)")
            #expect(back.stdout.contains("state: smokeTest → rollingBack"), "\(back.stdout)")
            let e = try #require(try await f.timeline().entries.last)
            let worker = try #require(e.hosts.first { $0.host == t[1] })
            #expect(worker.step == "smoke test" && worker.status == "failed", "\(worker)")
            #expect(try await f.served(t[0]) == "hello from releases-example v2")
            let beat = try await f.sh(t[1], "sleep 0.5; cat \(f.deployTo)/shared/spool/worker.heartbeat")
            #expect(beat.hasPrefix("v2 "), "\(beat)")
        }
    }
}
