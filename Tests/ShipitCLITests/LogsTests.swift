import Foundation
import ShipitCore
import TestSupport
import Testing

/// `shipit logs` against the test hosts: releases-example writes an ISO-timed line per request and
/// per failure to shared/app.log.
@Suite("shipit logs: every host's lines merged by time")
struct LogsTests {
    let hosts = TestHosts.current
    static let logs = "logs: {path: shared/app.log}"

    struct Line: Decodable {
        let host: String
        let time: String?
        let text: String
    }

    func lines(_ out: String) throws -> [Line] {
        try out.split(separator: "\n").map { try JSONDecoder().decode(Line.self, from: Data($0.utf8)) }
    }

    /// Requests to each host's app (through an SSH tunnel, as the smoke test does).
    func hit(_ f: DeployFixture, _ path: String) async throws {
        for h in f.targets { _ = try? await hosts.httpGet(h, port: f.port, path: path) }
    }

    @Test func errorLinesOfEveryHostMergedInTimeOrderWithHostsAndReleaseWindows() async throws {
        let f = try DeployFixture(healthDeadline: 1, extraYAML: Self.logs + "\n" + FirstDeployTests.stop)
        try await withCleanup({ await f.cleanUp() }) {
            #expect(try await f.shipit(["deploy", "--from", f.release("v1")]).status == 0)
            try await hit(f, "/first?password=hunter2secret")
            // v3 is never ready: its smoke test logs ERROR lines on every host, then it is rolled back.
            #expect(try await f.shipit(["deploy", "--from", f.release("v3")]).status == ShipitExit.rolledBack.rawValue)
            #expect(try await f.shipit(["deploy", "--from", f.release("v2")]).status == 0)
            try await hit(f, "/second")

            let errors = try await f.shipit(["logs", "--since", "5m", "--grep", "ERROR", "--json"])
            #expect(errors.status == 0, "\(errors.stdout)\(errors.stderr)")
            let e = try lines(errors.stdout)
            #expect(
                !e.isEmpty && e.allSatisfy { $0.text.contains(" ERROR v3 GET /health/ready 503") }, "\(errors.stdout)")
            #expect(Set(e.map(\.host)) == Set(f.targets))
            let times = e.compactMap(\.time)
            #expect(times.count == e.count && times == times.sorted(), "not in time order: \(times)")

            // Text: a host column, every line; a secret in a request line is redacted.
            let all = try await f.shipit(["logs", "--since", "5m"])
            #expect(all.status == 0)
            for h in f.targets { #expect(all.stdout.contains("\(h) | ")) }
            #expect(all.stdout.contains("GET /first?password=*** 404"), "\(all.stdout)")
            #expect(!all.stdout.contains("hunter2secret"))

            // --host and --role narrow the hosts; --release the window (v1's: before v2 switched).
            let one = try lines(try await f.shipit(["logs", "--since", "5m", "--host", f.targets[1], "--json"]).stdout)
            #expect(!one.isEmpty && one.allSatisfy { $0.host == f.targets[1] })
            let deploys = try await f.timeline().entries.filter { $0.outcome == "succeeded" }.sorted {
                $0.time < $1.time
            }
            let firstID = try #require(deploys.first?.release)
            let v2ID = try #require(deploys.last?.release)
            #expect(firstID != v2ID)
            let win = try lines(try await f.shipit(["logs", "--release", firstID, "--json"]).stdout)
            #expect(win.contains { $0.text.contains("GET /first") }, "\(win.map(\.text))")
            #expect(!win.contains { $0.text.contains("GET /second") })
            let later = try lines(try await f.shipit(["logs", "--release", v2ID, "--json"]).stdout)
            #expect(later.contains { $0.text.contains("GET /second") })

            // Triage's logs layer: each host's newest error lines of the incident window.
            let triage = try await f.shipit(["triage", "--since", "10m", "--json"])
            let report = try ShipitBinary.decode(TriageReport.self, triage.stdout)
            #expect(Set(report.logErrors.keys) == Set(f.targets), "\(triage.stdout.suffix(2000))")
            #expect(
                report.logErrors.values.allSatisfy {
                    !$0.isEmpty && $0.count <= 10 && $0.allSatisfy { $0.text.contains("ERROR") }
                })
            let text = try await f.shipit(["triage", "--since", "10m"])
            #expect(
                text.stdout.contains("Logs: error lines since")
                    && text.stdout.contains("ERROR v3 GET /health/ready 503"), "\(text.stdout)")
            #expect(text.stdout.contains("## Errors in the logs since"))

            // Bad input is refused naming the flag, before any host is touched.
            let bad = try await f.shipit(["logs", "--host", "not-a-host"])
            #expect(bad.status == ShipitExit.usage.rawValue && bad.stderr.contains("--host"), "\(bad.stderr)")
            let badRe = try await f.shipit(["logs", "--grep", "([unclosed"])
            #expect(
                badRe.status != 0 && badRe.stderr.contains("not a valid extended regular expression"),
                "\(badRe.stdout)\(badRe.stderr)")
        }
    }

    @Test func aCommandSourceIsFilteredTheSameWay() async throws {
        // A command prints the lines (as journalctl would): here an old line, then the app's log.
        let f = try DeployFixture(
            extraYAML: """
                logs:
                  command: 'echo "2000-01-01T00:00:00Z INFO an old line"; cat APPLOG'
                """)
        try await withCleanup({ await f.cleanUp() }) {
            let cfg = try String(contentsOfFile: f.configFile, encoding: .utf8).replacingOccurrences(
                of: "APPLOG", with: "\(f.deployTo)/shared/app.log")
            try cfg.write(toFile: f.configFile, atomically: true, encoding: .utf8)
            #expect(try await f.shipit(["deploy", "--from", f.release("v1")]).status == 0)
            try await hit(f, "/via-command")
            let r = try await f.shipit(["logs", "--since", "5m", "--json"])
            #expect(r.status == 0, "\(r.stdout)\(r.stderr)")
            let got = try lines(r.stdout)
            #expect(Set(got.map(\.host)) == Set(f.targets))
            #expect(got.contains { $0.text.contains("GET /via-command 404") })
            // The old line is outside the window: the host's filter dropped it.
            #expect(!got.contains { $0.text.contains("an old line") })
        }
    }

    @Test func followStreamsNewLinesUntilInterruptedAndLeavesNothingRunning() async throws {
        let f = try DeployFixture(extraYAML: Self.logs)
        try await withCleanup({ await f.cleanUp() }) {
            #expect(try await f.shipit(["deploy", "--from", f.release("v1")]).status == 0)
            let p = ShipitBinary(hosts: hosts).start([
                "logs", "--config", f.configFile, "--follow", "--grep", "follow-me",
            ])
            try p.run()
            // The followers are up once the hosts' tails run.
            for _ in 0..<100 {
                let n = try await f.sh(f.targets[0], "pgrep -u \(hosts.user) -f '[t]ail -n 0 -F \(f.deployTo)' | wc -l")
                if Int(n.trimmingCharacters(in: .whitespacesAndNewlines)) ?? 0 > 0 { break }
                try await Task.sleep(for: .milliseconds(50))
            }
            try await hit(f, "/follow-me")
            let seen = await ShipitBinary.read(p.standardOutput as! Pipe, until: ["\(f.targets.last!) | "], timeout: 20)
            p.stopIfRunning(SIGINT)
            let status = await ShipitBinary.wait(p)
            #expect(status == 0)
            for h in f.targets { #expect(seen.contains("\(h) | ") && seen.contains("GET /follow-me 404"), "\(seen)") }
            // The remote readers ended with the follow.
            try await Task.sleep(for: .milliseconds(300))
            for h in f.targets {
                let n = try await f.sh(h, "pgrep -u \(hosts.user) -f '[t]ail -n 0 -F \(f.deployTo)' | wc -l")
                #expect(n.trimmingCharacters(in: .whitespacesAndNewlines) == "0")
            }
        }
    }
}
