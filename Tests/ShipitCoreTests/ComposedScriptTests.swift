import Foundation
import TestSupport
import Testing

@testable import ShipitCore

/// Scripts composed of parts (a pre-flight that carries the artifact: its checks in `{ … }
/// </dev/null`, then the file on stdin) keep every value exact: a part inside a block is indented
/// when rendered, and a value with a newline (the lock's text, the dead holders) must not change.
@Suite("composed host scripts keep their values")
struct ComposedScriptTests {
    @Test func theCarryingPreflightTakesOverADeadRunsLockAndWritesItsLockExactly() async throws {
        let dir = Local.tempDir("composed")
        let config = try DeployConfig.parse(
            yaml: "app: demo\nhosts: [h1]\ndeploy_to: \(dir)/srv\nstart: sh start.sh\n", directory: dir)
        let s = SymlinkStrategy(config: config)
        let src = Local.tempDir("composed-src")
        try "x".write(toFile: src + "/a", atomically: true, encoding: .utf8)
        let a = try Artifact.build(from: .directory(src), workDir: Local.tempDir("composed-a"))
        let info = "holder=new\npid=1\nby=me@here\nreason=it's a \"test\""
        let lock = LockRequest(info: info, waitSeconds: 0, staleHolders: ["old1", "old2"])
        let c = try #require(s.preflightCarrying(lock, artifact: a, warm: false, host: "h1"))
        try FileManager.default.createDirectory(atPath: dir + "/srv/.shipit", withIntermediateDirectories: true)
        try "holder=old2\npid=5\n".write(toFile: dir + "/srv/.shipit/lock", atomically: true, encoding: .utf8)
        // No artifact on stdin: the script stops at its checksum, after the checks and the lock.
        let (status, out) = try await LocalProcess.runStatusDetached(["/bin/sh", "-c", c.rendered])
        #expect(status == ScriptExit.checksum.rawValue, "\(out)")
        let facts = ScriptOutput(out)
        #expect(facts.first(.lockStale) == "old2", "\(out)")
        #expect(facts.first(.lock) == "acquired", "\(out)")
        #expect(try String(contentsOfFile: dir + "/srv/.shipit/lock", encoding: .utf8) == info + "\n")
    }
}
