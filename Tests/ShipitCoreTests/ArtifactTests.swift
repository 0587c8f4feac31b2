import Foundation
import TestSupport
import Testing

@testable import ShipitCore

/// `--from DIR`: what the tarball holds, with and without a `.shipitignore`.
@Suite("artifact: what --from ships")
struct ArtifactTests {
    private func tree(_ files: [String], ignore: String?) throws -> String {
        let dir = Local.tempDir("from")
        for f in files {
            try FileManager.default.createDirectory(
                atPath: (dir + "/" + f as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
            try "x \(f)\n".write(toFile: dir + "/" + f, atomically: true, encoding: .utf8)
        }
        if let ignore { try ignore.write(toFile: dir + "/.shipitignore", atomically: true, encoding: .utf8) }
        return dir
    }

    private func members(_ dir: String) throws -> Set<String> {
        let a = try Artifact.build(from: .directory(dir), workDir: Local.tempDir("work"))
        let listing = try Local.run(["tar", "-tzf", a.path])
        return Set(
            listing.split(separator: "\n").map {
                String($0).replacingOccurrences(of: "./", with: "", options: .anchored)
            }
            .map { $0.hasSuffix("/") ? String($0.dropLast()) : $0 }.filter { !$0.isEmpty && $0 != "." })
    }

    @Test func shipitignoreLeavesOutWhatItNamesInGitignoreSyntax() throws {
        let dir = try tree(
            [
                "app.js", "src/b.js", "node_modules/x/c.js", "src/node_modules/y.js", "logs/1.log", "logs/keep.log",
                "secret.env", "deep/secret.env", ".git/config", ".shipit/ledger.sqlite", "a b/c;d.txt",
            ],
            ignore: "node_modules/\n*.log\n!logs/keep.log\n/secret.env\n")
        let m = try members(dir)
        #expect(
            m.isSuperset(of: [
                "app.js", "src", "src/b.js", "logs", "logs/keep.log", "deep/secret.env", "a b", "a b/c;d.txt",
                ".shipitignore",
            ]), "\(m.sorted())")
        for gone in [
            "node_modules", "node_modules/x/c.js", "src/node_modules/y.js", "logs/1.log", "secret.env", ".git",
            ".git/config", ".shipit", ".shipit/ledger.sqlite",
        ] {
            #expect(!m.contains(gone), "\(gone) shipped: \(m.sorted())")
        }
        // The same tree gives the same tarball.
        let one = try Artifact.build(from: .directory(dir), workDir: Local.tempDir("work"))
        let two = try Artifact.build(from: .directory(dir), workDir: Local.tempDir("work"))
        #expect(one.sha256 == two.sha256)
    }

    @Test func withoutShipitignoreGitAndTheLedgerStayBehind() throws {
        let dir = try tree(
            ["app.js", ".git/config", "vendor/.git/HEAD", ".shipit/ledger.sqlite", "lib/.shipit/kept.txt"], ignore: nil)
        let m = try members(dir)
        #expect(m.contains("app.js") && m.contains("lib/.shipit/kept.txt"), "\(m.sorted())")
        #expect(
            !m.contains(".git/config") && !m.contains("vendor/.git/HEAD") && !m.contains(".shipit/ledger.sqlite"),
            "\(m.sorted())")
    }
}
