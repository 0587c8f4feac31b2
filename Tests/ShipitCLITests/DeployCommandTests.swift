import Foundation
import ShipitCore
import TestSupport
import Testing

/// `shipit deploy` as a CI pipeline runs it: NDJSON, git refs, signals. Real hosts.
@Suite("shipit deploy: --json, --ref, SIGINT")
struct DeployCommandTests {
    let bin = ShipitBinary()

    @Test func jsonEmitsOneEventPerLineAndAResult() async throws {
        let f = try DeployFixture()
        try await withCleanup({ await f.cleanUp() }) {
            let r = try await bin.run(["deploy", "--config", f.configFile, "--from", f.release("v1"), "--json"])
            #expect(r.status == 0, "\(r.stderr)")
            let lines = r.stdout.split(separator: "\n")
            let objects = try lines.map {
                try #require(try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any])
            }
            // Every line parsed as one JSON object (the #require above); the result comes last, once.
            #expect(objects.filter { $0["event"] as? String == "result" }.count == 1)
            #expect(objects.count > f.targets.count * 5)
            let events = objects.dropLast()
            #expect(events.allSatisfy { $0["time"] is String && $0["step"] is String && $0["status"] is String })
            for h in f.targets {
                for step in ["preflight", "upload", "switch", "smoke test", "finish"] {
                    #expect(
                        events.contains {
                            $0["host"] as? String == h && $0["step"] as? String == step
                                && $0["status"] as? String == "ok"
                        })
                }
            }
            let last = try #require(objects.last)
            #expect(last["event"] as? String == "result")
            #expect(last["exitCode"] as? Int == 0)
            let report = try #require(last["report"] as? [String: Any])
            #expect(report["phase"] as? String == "succeeded")
            #expect((report["attemptID"] as? String)?.isEmpty == false)
        }
    }

    /// The hosts' handshakes start before the artifact is built; a --from that is not there is
    /// refused before that, naming it, and no attempt is recorded.
    @Test func aFromThatIsNotADirectoryIsRefusedBeforeAnyHost() async throws {
        let f = try DeployFixture()
        try await withCleanup({ await f.cleanUp() }) {
            for from in [f.dir + "/not-there", f.configFile] {
                let r = try await bin.run(["deploy", "--config", f.configFile, "--from", from])
                #expect(r.status == ShipitExit.usage.rawValue, "\(r.stdout)\(r.stderr)")
                #expect(r.stderr.contains("--from: \(from) is not a directory"), "\(r.stderr)")
                #expect(!r.stdout.contains("preflight"), "\(r.stdout)")
            }
            #expect(try await f.timeline().entries.isEmpty)
        }
    }

    @Test func refDeploysAGitCommitAndRecordsIt() async throws {
        let f = try DeployFixture()
        try await withCleanup({ await f.cleanUp() }) {
            let repo = Local.tempDir("repo")
            try await Local.run(["cp", "-a", f.release("v2") + "/.", repo])
            let git = ["git", "-C", repo, "-c", "user.name=t", "-c", "user.email=t@example.com"]
            try await Local.run(["git", "init", "-q", repo])
            try await Local.run(git + ["add", "-A"])
            try await Local.run(git + ["commit", "-q", "-m", "v2"])
            try await Local.run(git + ["tag", "release-2"])
            let commit = try await Local.run(["git", "-C", repo, "rev-parse", "HEAD"]).trimmingCharacters(
                in: .whitespacesAndNewlines)

            let r = try await bin.run(["deploy", "--config", f.configFile, "--ref", "release-2"], cwd: repo)
            #expect(r.status == 0, "\(r.stdout)\(r.stderr)")
            for h in f.targets { #expect(try await f.served(h) == "hello from releases-example v2") }
            let changes = try await bin.run(["changes", "--config", f.configFile, "--json", "--no-hosts"])
            let t = try ShipitBinary.decode(Timeline.self, changes.stdout)
            #expect(t.entries.last?.commit == commit)
            #expect(t.entries.last?.ref == "release-2")
            // A ref that is not a commit is refused before any host is touched.
            let bad = try await bin.run(["deploy", "--config", f.configFile, "--ref", "no-such-ref"], cwd: repo)
            #expect(bad.status == ShipitExit.usage.rawValue)
            #expect(bad.stderr.contains("--ref"))
        }
    }

    @Test func sigintMidUploadLeavesEveryCurrentComplete() async throws {
        let f = try DeployFixture()
        try await withCleanup({ await f.cleanUp() }) {
            let v1 = try await bin.run(["deploy", "--config", f.configFile, "--from", f.release("v1")])
            #expect(v1.status == 0)
            let before = try await f.currentRelease(f.targets[0])

            // A release big enough (incompressible) that its upload is still running when the signal comes.
            let big = try await f.bigRelease("v2", bytes: 20_000_000)
            let p = bin.start(["deploy", "--config", f.configFile, "--from", big])
            let out = p.standardOutput as! Pipe
            try p.run()
            // Watch the progress lines; signal as soon as the deploy enters the upload phase.
            var seen = await ShipitBinary.read(out, until: ["state: preflight → upload"])
            p.stopIfRunning(SIGINT)
            seen += await ShipitBinary.read(out, until: [])
            p.waitUntilExit()

            #expect(p.terminationStatus == ShipitExit.interrupted.rawValue, "\(seen)")
            #expect(seen.contains("interrupted"))
            for h in f.targets {
                // Still on v1, complete, serving; no half-uploaded or half-extracted leftovers; lock released.
                #expect(try await f.currentRelease(h) == before)
                #expect(try await f.served(h) == "hello from releases-example v1")
                #expect(
                    try await f.sh(
                        h, "cd \(f.deployTo) && ls releases | wc -l; ls .shipit | grep -c -e upload- -e lock || true")
                        == "1\n0\n")
            }
            let verify = try await bin.run(["verify", "--config", f.configFile])
            #expect(verify.status == 0, "\(verify.stdout)")
        }
    }
}
