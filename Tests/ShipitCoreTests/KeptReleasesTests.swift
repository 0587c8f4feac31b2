import Foundation
import ShipitCore
import TestSupport
import Testing

/// The pre-flight's `kept=` lines, from its real script in a real shell: what a delta may copy
/// from, the current release first, complete releases only, and none when deltas are off or the
/// release is small enough to ride on the pre-flight's channel.
@Suite("pre-flight: the releases a host keeps, for a delta")
struct KeptReleasesTests {
    let old = "20260101T000000.000Z-aaaa0001"
    let current = "20260102T000000.000Z-aaaa0002"
    let newer = "20260103T000000.000Z-aaaa0003"

    func preflight(delta: Bool, bytes: Int) async throws -> (Int32, String, [String: String]) {
        let dir = Local.tempDir("kept")
        let config = try DeployConfig.parse(
            yaml: "app: demo\nhosts: [h1]\ndeploy_to: \(dir)/srv\nstart: sh start.sh\nssh: {delta: \(delta)}\n",
            directory: dir)
        let src = Local.tempDir("kept-src")
        try await Local.run(["sh", "-c", "head -c \(bytes) /dev/urandom > \"$1/blob\"", "sh", src])
        let a = try Artifact.build(from: .directory(src), workDir: Local.tempDir("kept-a"))
        var sums: [String: String] = [:]
        for id in [old, current, newer] {
            let r = "\(dir)/srv/releases/\(id)"
            try FileManager.default.createDirectory(atPath: r, withIntermediateDirectories: true)
            try "\(String(repeating: "a", count: 64))  ./\(id)\n".write(
                toFile: r + "/.shipit-manifest", atomically: true, encoding: .utf8)
            sums[id] = try Digest.sha256Hex(file: r + "/.shipit-manifest")
        }
        // Neither a half-built release nor one without a manifest is offered.
        try FileManager.default.createDirectory(
            atPath: "\(dir)/srv/releases/\(newer)0.tmp", withIntermediateDirectories: true)
        try FileManager.default.createDirectory(
            atPath: "\(dir)/srv/releases/20260104T000000.000Z-aaaa0004", withIntermediateDirectories: true)
        try FileManager.default.createSymbolicLink(
            atPath: "\(dir)/srv/current", withDestinationPath: "releases/\(current)")
        let c = SymlinkStrategy(config: config).preflight(
            LockRequest(info: "holder=t\n", waitSeconds: 0, staleHolders: []), deploying: .artifact(a),
            inventory: false,
            host: "h1")
        let (status, out) = try await LocalProcess.runStatusDetached(["/bin/sh", "-c", c.rendered])
        return (status, out, sums)
    }

    @Test func theCurrentReleaseFirstThenTheNewestOthers() async throws {
        let (status, out, sums) = try await preflight(delta: true, bytes: 3_000_000)
        #expect(status == 0, "\(out)")
        #expect(
            ScriptOutput(out).all(.kept) == [
                "\(current) \(sums[current]!)", "\(newer) \(sums[newer]!)", "\(old) \(sums[old]!)",
            ],
            "\(out)")
    }

    @Test(arguments: [(false, 3_000_000), (true, 100_000)])
    func noneWhenDeltasAreOffOrTheReleaseIsSmall(delta: Bool, bytes: Int) async throws {
        let (status, out, _) = try await preflight(delta: delta, bytes: bytes)
        #expect(status == 0, "\(out)")
        #expect(ScriptOutput(out).all(.kept).isEmpty, "\(out)")
    }
}
