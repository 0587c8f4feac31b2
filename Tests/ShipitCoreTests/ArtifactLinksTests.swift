import Foundation
import TestSupport
import Testing

@testable import ShipitCore

/// The links of a real artifact (built by Artifact.build from a directory, listed by GNU tar), and
/// what the deployer refuses before any host is touched.
@Suite("artifact links: shared paths and what only GNU tar extracts safely")
struct ArtifactLinksTests {
    func artifact(_ make: (String) throws -> Void) async throws -> Artifact {
        let src = Local.tempDir("links-src")
        try "1".write(toFile: src + "/VERSION", atomically: true, encoding: .utf8)
        try make(src)
        return try await Local.offPool {
            try Artifact.build(from: .directory(src), workDir: Local.tempDir("links-art"))
        }
    }

    func link(_ src: String, _ path: String, to target: String) throws {
        let full = src + "/" + path
        try FileManager.default.createDirectory(
            atPath: (full as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        try FileManager.default.createSymbolicLink(atPath: full, withDestinationPath: target)
    }

    func refusal(_ a: Artifact, _ shared: [String]) -> String? {
        do {
            try a.links.checkShared(shared)
            return nil
        } catch { return error.message }
    }

    @Test func aSharedPathThroughASymlinkIsRefusedNamingItWhateverTheLinkPointsAt() async throws {
        let a = try await artifact { src in
            try link(src, "config", to: "/srv/other/config")  // absolute
            try link(src, "up", to: "../../../etc")  // .. out of the release
            try link(src, "app/deep/conf", to: "/etc")  // deeper in a path
            try link(src, "log", to: "/var/log/app")  // the shared path itself
            try link(src, "inside", to: "public/assets")  // stays inside: still refused as a shared path
            try FileManager.default.createDirectory(atPath: src + "/public/assets", withIntermediateDirectories: true)
        }
        #expect(
            refusal(a, ["config/database.yml"])
                == "shared: config/database.yml: 'config' is a symbolic link in the artifact (to /srv/other/config); a shared path must be a plain directory or file of the release, or absent"
        )
        #expect(refusal(a, ["up/x"])?.contains("'up' is a symbolic link in the artifact (to ../../../etc)") == true)
        #expect(refusal(a, ["app/deep/conf/x.yml"])?.contains("'app/deep/conf' is a symbolic link") == true)
        #expect(
            refusal(a, ["log"])?.hasPrefix("shared: log: it is a symbolic link in the artifact (to /var/log/app)")
                == true)
        #expect(refusal(a, ["./log"]) != nil)
        #expect(refusal(a, ["inside/x"]) != nil)
        // Plain directories, files, and paths the artifact does not have: fine.
        #expect(refusal(a, ["public/assets", "tmp/cache", "VERSION", "app/other"]) == nil)
        // Links out of the release are what a non-GNU tar must not extract; the inside one is not.
        #expect(a.links.needsGNUTar.hasPrefix("4 symbolic link(s) out of the release ("), "\(a.links.needsGNUTar)")
        #expect(!a.links.needsGNUTar.contains("inside"))
    }

    /// With a .shipitignore the tarball is made from a file list (names without `./`): the same links.
    @Test func aShipitignoreListedArtifactHasTheSameLinks() async throws {
        let a = try await artifact { src in
            try "tmp/\n".write(toFile: src + "/.shipitignore", atomically: true, encoding: .utf8)
            try link(src, "config", to: "/srv/other/config")
            try link(src, "tmp/ignored", to: "/etc")
        }
        #expect(a.links.symbolic == [.init(path: "config", target: "/srv/other/config")], "\(a.links)")
        #expect(
            refusal(a, ["config/database.yml"])?.contains(
                "'config' is a symbolic link in the artifact (to /srv/other/config)") == true)
    }

    @Test func hardLinksAndHostileNamesAreListedExactly() async throws {
        let weird = "a \"q\" \\ b\nnew -> line link to x"
        let a = try await artifact { src in
            try "data".write(toFile: src + "/orig", atomically: true, encoding: .utf8)
            try FileManager.default.linkItem(atPath: src + "/orig", toPath: src + "/" + weird)
            try link(src, "l \"x\"", to: weird)
        }
        #expect(
            a.links.hard == [.init(path: weird, target: "orig")]
                || a.links.hard == [.init(path: "orig", target: weird)], "\(a.links)")
        #expect(a.links.symbolic == [.init(path: "l \"x\"", target: weird)], "\(a.links)")
        #expect(a.links.needsGNUTar.hasPrefix("1 hard link(s) ("))
        #expect(!a.links.needsGNUTar.contains("\n"))
        // A plain tree has nothing to say.
        let plain = try await artifact { src in try "x".write(toFile: src + "/y", atomically: true, encoding: .utf8) }
        #expect(
            plain.links.symbolic.isEmpty && plain.links.hard.isEmpty && plain.links.paths.isSuperset(of: ["VERSION"]))
        #expect(plain.links.needsGNUTar == "")
    }

    @Test(arguments: [
        ("a", "/x", true), ("a", "b", false), ("a", "../x", true), ("d/a", "../x", false), ("d/a", "../../x", true),
        ("d/a", "./../b/../../x", true), ("d/a", "b/../../c", false), ("a", "b/../../x", true),
    ])
    func whatLeavesTheRelease(path: String, target: String, leaves: Bool) {
        #expect(ArtifactLinks.leavesRelease(path: path, target: target) == leaves)
    }
}
