import Foundation
import ShipitCore
import TestSupport
import Testing

/// `shipit deploy`'s source, refused while the request is read: before the hosts' handshakes,
/// which start before the artifact is built.
@Suite("deploy request: the source checked before any host")
struct DeployRequestTests {
    func refused(from: String? = nil, ref: String? = nil) -> String? {
        do {
            _ = try DeployRequest(strategy: .symlink, from: from, ref: ref, tag: nil)
            return nil
        } catch let e as ShipitError {
            return e.message
        } catch {
            return "\(error)"
        }
    }

    @Test func aFromThatIsNotADirectoryIsRefused() throws {
        let dir = Local.tempDir("request")
        let file = dir + "/file"
        try "x".write(toFile: file, atomically: true, encoding: .utf8)
        #expect(refused(from: dir + "/missing") == "--from: \(dir)/missing is not a directory")
        #expect(refused(from: file) == "--from: \(file) is not a directory")
        #expect(refused(from: dir) == nil)
    }

    /// Checked in the working directory's repository, as the artifact is built from it.
    @Test func aRefThatIsNotACommitIsRefused() throws {
        let repo = FileManager.default.currentDirectoryPath
        #expect(refused(ref: "no-such-branch-\(UUID().uuidString)")?.hasPrefix("--ref: no-such-branch-") == true)
        #expect(refused(ref: "--output=/tmp/x") == "--ref: --output=/tmp/x is not a valid git ref")
        #expect(refused(ref: "HEAD~1..HEAD") == "--ref: HEAD~1..HEAD is not a valid git ref")
        #expect(refused(ref: "HEAD") == nil, "\(repo) is a git repository with a commit")
    }
}
