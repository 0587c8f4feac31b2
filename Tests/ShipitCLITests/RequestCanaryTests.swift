import Foundation
import ShipitCore
import TestSupport
import Testing

/// Request steps on three real hosts behind shipit's own nginx, under steady load on all three:
/// a release whose errors climb is stopped by the proxy gate while it has its share of requests;
/// a healthy one goes 10 % → 100 % with sticky clients; a gate with too few requests does what
/// its `too_few` says.
@Suite("request canaries: a share of every host's requests, judged from the proxy's records", .serialized)
struct RequestCanaryTests {
    let hosts = TestHosts.current

    func fixture(_ rollout: String) throws -> DeployFixture {
        try DeployFixture(
            healthDeadline: 2,
            extraYAML: """
                traffic: {proxy: nginx, drain: 1}
                rollout:
                \(rollout.split(separator: "\n").map { "  " + $0 }.joined(separator: "\n"))
                """)
    }

    /// releases-example v6 whose GET / answers 500 to a share of requests that climbs by
    /// `perSecond` each second after its start.
    func climbing(_ perSecond: Double, from f: DeployFixture) throws -> String {
        let dir = Local.tempDir("v6climb")
        try FileManager.default.removeItem(atPath: dir)
        try FileManager.default.copyItem(atPath: f.release("v6"), toPath: dir)
        try "\(perSecond)\n".write(toFile: dir + "/ERROR_CLIMB", atomically: true, encoding: .utf8)
        return dir
    }

    /// The proxy's own records of the last request step, per host: (this release's slot, other).
    func proxyRecords(_ f: DeployFixture) async throws -> (serving: Int, other: Int) {
        var serving = 0
        var other = 0
        for h in f.targets {
            let out = try await f.sh(
                h,
                "a=$(cat \(f.deployTo)/.shipit/slots/active); awk -v a=\"$a\" '$1 == a { s++ } $1 != a { o++ } END { print s + 0, o + 0 }' \(f.deployTo)/.shipit/proxy/golden.log"
            )
            let n = out.split(separator: " ").compactMap { Int($0.trimmingCharacters(in: .whitespacesAndNewlines)) }
            serving += n.first ?? 0
            other += n.last ?? 0
        }
        return (serving, other)
    }

    @Test func aReleaseWhoseErrorsClimbIsStoppedWithItsShareAndThePreviousOneNeverStopped() async throws {
        let f = try fixture(
            """
            steps: [{requests: 10%}, "100%"]
            bake: 8
            interval: 0.5
            gates:
              - {type: proxy, max_error_ratio: 0.05, max_error_ratio_increase: 0.03, min_requests: 20}
            """)
        try await withCleanup({ await f.cleanUp() }) {
            // The first deploy has nothing to split with: every host is switched whole.
            let v1 = try await f.shipit(["deploy", "--from", f.release("v1")])
            #expect(v1.status == 0, "\(v1.stdout.suffix(3000))\(v1.stderr)")
            #expect(v1.stdout.contains("3 host(s) had no release to split with: switched whole"), "\(v1.stdout)")
            let before = try await f.servingSlots()
            let load = try LoadGenerator(targets: f.targets, port: f.port, clients: 20)
            // As GitHub Actions runs it: the job summary gets the proxy's numbers.
            let summary = f.dir + "/summary.md"
            let env = ProcessInfo.processInfo.environment.merging([
                "GITHUB_ACTIONS": "true", "GITHUB_STEP_SUMMARY": summary, "GITHUB_OUTPUT": f.dir + "/output",
            ]) { $1 }
            let v6 = try await ShipitBinary().run(
                config: f.configFile, ["deploy", "--from", try climbing(0.1, from: f)], environment: env)
            let r = try await load.finish()
            #expect(v6.status == ShipitExit.rolledBack.rawValue, "\(v6.stdout.suffix(4000))")
            let v6ID = try #require(try await f.timeline().entries.last?.release)
            #expect(
                v6.stdout.contains("FAILED at rollout step 1 of 2 (gate proxy: \(v6ID) error "),
                "\(v6.stdout.suffix(3000))")
            #expect(v6.stdout.contains("host(s) send their split requests back"))
            let md = try String(contentsOfFile: summary, encoding: .utf8)
            #expect(md.contains("| step | share | release | requests | 5xx | p50 | p95 | p99 | verdict |"), "\(md)")
            #expect(md.contains("| 1 | 10 % | `\(v6ID)` |") && md.contains("| fail: error ratio "), "\(md)")
            // No request failed but v6's own 500s, and v6 answered no more than its share.
            #expect(r.failed == (r.failedVersions["v6"] ?? 0), "\(r.errors)")
            #expect((r.failedVersions["v6"] ?? 0) > 0, "\(r)")
            let v6Answers = (r.versions["v6"] ?? 0) + (r.failedVersions["v6"] ?? 0)
            #expect(Double(v6Answers) <= 0.15 * Double(r.requests), "\(r)")
            #expect(r.requests > 300, "\(r)")
            // The proxy's records of the split: v6's share of what it saw, within 10 ± 5 %.
            let seen = try await proxyRecords(f)
            let share = Double(seen.other) / Double(max(1, seen.serving + seen.other))
            #expect(seen.serving + seen.other > 100 && share <= 0.15 && share >= 0.05, "\(seen)")
            // Every host serves v1 from the same process as before.
            #expect(try await f.servingSlots() == before)
            for h in f.targets { #expect(try await f.served(h).contains("v1")) }
            let entry = try #require(try await f.timeline().entries.last)
            #expect(entry.outcome == "rolled-back")
            let measured = try #require(entry.requests.last)
            #expect(measured.step == 1 && measured.share == 10 && measured.verdict == "fail", "\(measured)")
            #expect(measured.canary.errors > 0 && measured.baseline.requests > measured.canary.requests)
            #expect(
                entry.rollout.contains {
                    $0.hasPrefix("gate FAILED: step 1/2 (10 % of requests) · proxy: \(v6ID) error")
                },
                "\(entry.rollout)")
        }
    }

    @Test func aHealthyReleaseGoesFromTenPercentToAllWithStickyClientsAndNothingLost() async throws {
        let f = try fixture(
            """
            steps: [{requests: 10%}, "100%"]
            bake: 1
            interval: 0.5
            pause_after: 1
            gates:
              - {type: proxy, max_error_ratio: 0.01, max_p95_ratio: 20, min_requests: 30}
            """)
        try await withCleanup({ await f.cleanUp() }) {
            #expect(try await f.shipit(["deploy", "--from", f.release("v1"), "--steps", "100%"]).status == 0)
            let steady = try LoadGenerator(targets: f.targets, port: f.port, threads: 2, clients: 20)
            let v2 = try await f.shipit(["deploy", "--from", f.release("v2")])
            #expect(v2.status == 0, "\(v2.stdout.suffix(3000))")
            #expect(v2.stdout.contains("PAUSED after rollout step 1 of 2"), "\(v2.stdout.suffix(2000))")
            #expect(v2.stdout.contains("step 1/2 done: 10 % of requests on 3 host(s)"), "\(v2.stdout.suffix(2000))")
            // Status shows where the paused split stands, per host.
            let status = try await f.shipit(["status"])
            #expect(status.stdout.components(separatedBy: "(10 % of requests to ").count == 4, "\(status.stdout)")
            // While paused at 10 %: new clients, each keeping its cookie. A client's first answer
            // decides its release for good, so the share varies with the number of clients, not of
            // requests: 900 clients (six threads of 150) of about two requests each put 4 points
            // at four standard deviations.
            let step = try LoadGenerator(
                targets: f.targets, port: f.port, threads: 2, seconds: 90, clients: 150, maxRequests: 1800)
            let during = try await step.finish(stop: false)
            let v2Share = Double(during.versions["v2"] ?? 0) / Double(max(1, during.requests))
            #expect(during.requests >= 500, "\(during)")
            #expect(abs(v2Share - 0.10) <= 0.04, "\(during)")
            #expect(during.mixed == 0, "a client saw both releases within the step: \(during)")
            #expect(during.failed == 0, "\(during.errors)")
            let promote = try await f.shipit(["rollout", "promote"])
            #expect(promote.status == 0, "\(promote.stdout.suffix(3000))")
            // The split is over (the steady load still runs): both of the buckets' targets follow
            // active.sock, and nothing is logged any more.
            for h in f.targets {
                let p = "\(f.deployTo)/.shipit/proxy"
                let state = try await f.sh(
                    h, "cat \(p)/split/share; readlink \(p)/canary.sock \(p)/baseline.sock; wc -c < \(p)/golden.log")
                let logged = try await f.sh(h, "sleep 0.3; wc -c < \(p)/golden.log")
                #expect(state.hasPrefix("0\nactive.sock\nactive.sock\n"), "\(h): \(state)")
                #expect(state.split(separator: "\n").last == logged.split(separator: "\n").last, "\(h): still logging")
            }
            let r = try await steady.finish()
            #expect(r.failed == 0, "\(r.errors)")
            // The clients on v2 stayed there: nobody went back to v1.
            #expect(r.back == 0, "\(r)")
            #expect((r.versions["v2"] ?? 0) > 0 && (r.versions["v1"] ?? 0) > 0, "\(r.versions)")
            for h in f.targets { #expect(try await f.served(h).contains("v2")) }
            let entry = try #require(try await f.timeline().entries.last)
            #expect(entry.outcome == "succeeded")
            let measured = try #require(entry.requests.first)
            #expect(measured.share == 10 && measured.verdict == "pass" && measured.canary.release == entry.release)
            #expect(measured.canary.requests >= 10 && measured.canary.p95 != nil)
        }
    }

    @Test func aPromoteRunsThePausedRunsPlanAndAPausedStepKeepsItsShareUnlogged() async throws {
        let f = try fixture(
            """
            steps: [{requests: 10%}, {requests: 50%}, "100%"]
            bake: 0.5
            interval: 0.25
            gates:
              - {type: proxy, max_error_ratio: 0.05, min_requests: 1, too_few: pass}
            """)
        try await withCleanup({ await f.cleanUp() }) {
            // A first deploy: every host is switched whole in step 1, and the next request step
            // leaves them as they are.
            let v1 = try await f.shipit(["deploy", "--from", f.release("v1")])
            #expect(v1.status == 0 && v1.stdout.contains("succeeded in 3 rollout steps"), "\(v1.stdout.suffix(3000))")
            let config = try String(contentsOfFile: f.configFile, encoding: .utf8)
            try config.replacing("  bake: 0.5", with: "  bake: 0.5\n  pause_after: 1")
                .write(toFile: f.configFile, atomically: true, encoding: .utf8)
            let load = try LoadGenerator(targets: f.targets, port: f.port, threads: 2, clients: 10)
            let v2 = try await f.shipit(["deploy", "--from", f.release("v2")])
            #expect(v2.stdout.contains("PAUSED after rollout step 1 of 3"), "\(v2.stdout.suffix(3000))")
            // Paused: the share stays, and nothing is logged. The log was emptied at the pause; a
            // request already in flight through a logged server then may still write its line.
            let log = "\(f.deployTo)/.shipit/proxy/golden.log"
            let sizes = try await f.sh(f.targets[0], "wc -c < \(log); sleep 1; wc -c < \(log)")
            let both = sizes.split(separator: "\n").compactMap { Int($0.trimmingCharacters(in: .whitespaces)) }
            #expect(both.count == 2 && both[0] == both[1] && both[0] < 400, "\(sizes)")
            // The config loses its request steps (and so its proxy gate): the promote runs the paused
            // run's plan, with the gates the config has now.
            try config.replacing("[{requests: 10%}, {requests: 50%}, \"100%\"]", with: "[1]")
                .replacing(
                    "    - {type: proxy, max_error_ratio: 0.05, min_requests: 1, too_few: pass}",
                    with: "    - {type: health}"
                )
                .write(toFile: f.configFile, atomically: true, encoding: .utf8)
            let promote = try await f.shipit(["rollout", "promote"])
            let r = try await load.finish()
            #expect(promote.status == 0, "\(promote.stdout.suffix(3000))")
            #expect(promote.stdout.contains("step 2/3 starts: 50 % of requests on 3 host(s)"), "\(promote.stdout)")
            #expect(promote.stdout.contains("succeeded in 3 rollout steps"))
            #expect(r.failed == 0 && r.back == 0, "\(r)")
            #expect((r.versions["v2"] ?? 0) > 0)
            for h in f.targets { #expect(try await f.served(h).contains("v2")) }
            let entry = try #require(try await f.timeline().entries.last)
            #expect(entry.requests.map(\.share) == [10], "\(entry.requests)")
        }
    }

    @Test func aProxyGateWithTooFewRequestsFailsExtendsOrPassesAsConfigured() async throws {
        let f = try fixture(
            """
            steps: [{requests: 5%}, "100%"]
            bake: 0.5
            interval: 0.25
            gates:
              - {type: proxy, max_error_ratio: 0.1, min_requests: 1000, too_few: fail}
            """)
        try await withCleanup({ await f.cleanUp() }) {
            #expect(try await f.shipit(["deploy", "--from", f.release("v1")]).status == 0)
            let good = try await f.currentRelease(hosts.hosts[0])
            // No load: the canary answers nobody.
            let failed = try await f.shipit(["deploy", "--from", f.release("v2")])
            #expect(failed.status == ShipitExit.rolledBack.rawValue, "\(failed.stdout.suffix(3000))")
            #expect(
                failed.stdout.contains("too few requests to judge (too_few: fail)"), "\(failed.stdout.suffix(2000))")
            for h in f.targets { #expect(try await f.currentRelease(h) == good) }

            try String(contentsOfFile: f.configFile, encoding: .utf8)
                .replacing("too_few: fail}", with: "too_few: extend, extend_max: 1}")
                .write(toFile: f.configFile, atomically: true, encoding: .utf8)
            let extended = try await f.shipit(["deploy", "--from", f.release("v2")])
            #expect(extended.status == ShipitExit.rolledBack.rawValue, "\(extended.stdout.suffix(3000))")
            #expect(extended.stdout.contains("baking on, up to 1 s more (too_few: extend)"))
            #expect(extended.stdout.contains("still too few requests to judge after 1 s more"))

            try String(contentsOfFile: f.configFile, encoding: .utf8)
                .replacing("too_few: extend, extend_max: 1}", with: "too_few: pass}")
                .write(toFile: f.configFile, atomically: true, encoding: .utf8)
            let passed = try await f.shipit(["deploy", "--from", f.release("v2")])
            #expect(passed.status == 0, "\(passed.stdout.suffix(3000))")
            #expect(passed.stdout.contains("passed as too_few: pass says"), "\(passed.stdout.suffix(2000))")
            for h in f.targets { #expect(try await f.served(h).contains("v2")) }
        }
    }
}
