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

    /// A release gzip barely shrinks (media, bundles) goes as plain tar: the hosts skip `gzip -d`.
    /// Its bytes are exactly what tar wrote (the same as the gzip'd one's inside), its sha256 and
    /// release id are the file's, and the same tree gives the same file. A release that shrinks
    /// stays gzip'd.
    @Test(arguments: [false, true])
    func aReleaseGzipBarelyShrinksGoesAsPlainTar(compressible: Bool) async throws {
        let dir = Local.tempDir("plain")
        try await Local.run([
            "sh", "-c",
            compressible
                ? "seq 1 400000 > \"$1/numbers.txt\" && head -c 300000 /dev/urandom > \"$1/blob\""
                : "head -c 3000000 /dev/urandom > \"$1/blob\" && echo hi > \"$1/app.txt\"",
            "sh", dir,
        ])
        let a = try Artifact.build(from: .directory(dir), workDir: Local.tempDir("work"))
        #expect(a.zipped == compressible)
        #expect(a.path.hasSuffix(compressible ? "/release.tar.gz" : "/release.tar"))
        #expect(a.sha256 == (try Local.sha256(a.path)))
        #expect(a.releaseID.hasSuffix("-" + a.sha256.prefix(8)))
        // The 3 MB plain tar carries its manifest (written, its sha256 the file's); the small
        // gzip'd one has none written.
        if compressible {
            #expect(a.manifest == nil)
        } else {
            let m = try #require(a.manifest)
            #expect(try String(contentsOfFile: m.path, encoding: .utf8) == (try #require(a.tree)).manifest)
            #expect(m.sha256 == (try Local.sha256(m.path)))
        }
        let kind = try await Local.run(["sh", "-c", "head -c 2 \"$1\" | od -An -tx1", "sh", a.path])
        #expect(kind.trimmingCharacters(in: .whitespaces).hasPrefix(compressible ? "1f 8b" : "2e 2f"), "\(kind)")
        // What tar wrote, byte for byte: the same tree archived again, plainly.
        let again = Local.tempDir("plain-again") + "/t.tar"
        try await Local.run([
            "tar", "--sort=name", "--exclude=.git", "--exclude=./.shipit", "--mtime=@0", "--owner=0", "--group=0",
            "--numeric-owner", "--mode=ug-s", "-C", dir, "-cf", again, ".",
        ])
        let inside = try await Local.run([
            "sh", "-c", "gzip -dc < \"$1\" 2>/dev/null | cmp -s - \"$2\" || cmp -s \"$1\" \"$2\" && echo same", "sh",
            a.path, again,
        ])
        #expect(inside.trimmingCharacters(in: .whitespacesAndNewlines) == "same")
        let two = try Artifact.build(from: .directory(dir), workDir: Local.tempDir("work"))
        #expect(two.sha256 == a.sha256)
        // GNU tar and BusyBox's read it as the hosts' script does.
        let out = Local.tempDir("plain-out")
        try await Local.run([
            "sh", "-c",
            "mkdir \"$2/gnu\" \"$2/bb\" && tar -x\"$3\"f \"$1\" -C \"$2/gnu\" && busybox tar -x\"$3\"f \"$1\" -C \"$2/bb\"",
            "sh", a.path, out, a.zipped ? "z" : "",
        ])
        for side in ["gnu", "bb"] {
            #expect(try Local.sha256(out + "/\(side)/blob") == (try Local.sha256(dir + "/blob")))
        }
    }
}
