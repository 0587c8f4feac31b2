import Foundation
import ShipitCore
import TestSupport
import Testing

/// A release may ship a read-only directory (`dr-xr-xr-x`, as tar keeps it). The deploy user
/// cannot remove what is in one with `rm -rf` alone: pruning (a failed release too) and the
/// pre-flight's sweep of a lost run's `releases/*.tmp` must still remove it, or old releases
/// pile up until the disk is full.
@Suite("releases with read-only directories")
struct ReadOnlyReleaseTests {
    let hosts = TestHosts.current

    /// releases-example's `version` with `ro/` read-only, holding a file that says `tag`.
    func readOnlyRelease(_ f: DeployFixture, _ version: String, _ tag: String) async throws -> String {
        let dir = Local.tempDir("ro-release") + "/" + version
        _ = try await Local.run(["cp", "-r", f.release(version), dir])
        try FileManager.default.createDirectory(atPath: dir + "/ro", withIntermediateDirectories: false)
        try tag.write(toFile: dir + "/ro/file", atomically: true, encoding: .utf8)
        _ = try await Local.run(["chmod", "555", dir + "/ro"])
        return dir
    }

    @Test func prunedAndSweptAsTheDeployUserWithTheirReadOnlyDirectories() async throws {
        let f = try DeployFixture(keep: 2)
        let h = f.targets[0]
        try await withCleanup({
            for t in f.targets { _ = try? await f.sh(t, "chmod -R u+w \(f.deployTo) 2>/dev/null; true") }
            await f.cleanUp()
        }) {
            for tag in ["a", "b", "c", "d"] {
                let r = try await f.shipit(["deploy", "--from", try await readOnlyRelease(f, "v1", tag)])
                #expect(r.status == 0, "\(r.stdout)\(r.stderr)")
            }
            let kept = try await f.sh(h, "ls \(f.deployTo)/releases").split(separator: "\n")
            #expect(kept.count == 2, "keep_releases 2: \(kept)")
            #expect(try await f.sh(h, "stat -c %A \(f.deployTo)/current/ro").hasPrefix("dr-x"))

            // A lost run's half-built release with a read-only directory: the next pre-flight sweeps it.
            _ = try await f.sh(
                h, "d=\(f.deployTo)/releases/lost.tmp/ro; mkdir -p $d && echo x > $d/f && chmod 555 $d")
            // v3 fails its smoke test: kept for inspection (marked failed) while inside the keep
            // window, pruned with its read-only directory once two good releases came after it.
            let bad = try await f.shipit(["deploy", "--from", try await readOnlyRelease(f, "v3", "e")])
            #expect(bad.status == ShipitExit.rolledBack.rawValue, "\(bad.stdout)")
            let after = try await f.sh(h, "ls -a \(f.deployTo)/releases").split(separator: "\n").map(String.init)
            #expect(!after.contains("lost.tmp"), "\(after)")
            #expect(after.filter { !$0.hasPrefix(".") }.count == 3, "\(after)")
            for tag in ["f", "g"] {
                let r = try await f.shipit(["deploy", "--from", try await readOnlyRelease(f, "v1", tag)])
                #expect(r.status == 0, "\(r.stdout)\(r.stderr)")
            }
            let last = try await f.sh(h, "ls \(f.deployTo)/releases; ls \(f.deployTo)/.shipit/failed")
            #expect(last.split(separator: "\n").count == 2, "\(last)")
        }
    }
}
