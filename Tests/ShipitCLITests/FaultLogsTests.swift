import Foundation
import ShipitCore
import TestSupport
import Testing

/// `shipit logs` when a host's log is not what it should be: missing, or huge.
@Suite("faults: logs missing or huge")
struct FaultLogsTests {
    let hosts = TestHosts.current

    @Test func aMissingLogIsANoteAndAHugeOneIsReadInPartAndBounded() async throws {
        let f = try DeployFixture(extraYAML: "logs: {path: shared/app.log}")
        try await withCleanup({ await f.cleanUp() }) {
            #expect(try await f.shipit(["deploy", "--from", f.release("v1")]).status == 0)
            let (missing, huge) = (f.targets[0], f.targets[1])
            // One host lost its log; another's is 80 MiB of old lines then a fresh one.
            _ = try await f.sh(missing, "rm -f \(f.deployTo)/shared/app.log")
            _ = try await f.sh(
                huge,
                """
                f=\(f.deployTo)/shared/app.log
                yes '2020-01-01T00:00:00.000Z INFO v0 an old line, padded to be long enough to fill the file quickly......' | head -c 83886080 > "$f.big"
                cat "$f" >> "$f.big" && mv "$f.big" "$f" && printf '%s INFO v1 fresh ERROR-marker\\n' "$(date -u +%Y-%m-%dT%H:%M:%S.000Z)" >> "$f"
                """)
            let r = try await f.shipit(["logs", "--since", "1h", "--max-bytes", "4096"])
            #expect(r.status == 0, "\(r.stdout)\(r.stderr)")
            #expect(r.stderr.contains("\(missing): no log file at \(f.deployTo)/shared/app.log"), "\(r.stderr)")
            #expect(
                r.stderr.contains("\(huge): \(f.deployTo)/shared/app.log is ")
                    && r.stderr.contains("only its last 67108864 were read"), "\(r.stderr)")
            #expect(r.stdout.contains("\(huge) | ") && r.stdout.contains("fresh ERROR-marker"))
            // The old lines are outside the window: filtered on the host, never sent.
            #expect(!r.stdout.contains("an old line"))
            // Bounded per host, whatever the window holds: the whole file, asked for without one.
            let all = try await f.shipit(["logs", "--since", "3000d", "--max-bytes", "4096", "--host", huge])
            #expect(all.status == 0)
            #expect(all.stdout.utf8.count < 4096 + 4096 / 8 * (huge.count + 3), "\(all.stdout.utf8.count) bytes")
            #expect(all.stderr.contains("output cut to the newest 4096 bytes"), "\(all.stderr)")
            #expect(all.stdout.contains("fresh ERROR-marker"))
        }
    }
}
