import Foundation
import TestSupport
import Testing

@testable import ShipitCore

/// The tree read from the artifact's tar stream as it is built must be exactly what extracting
/// the artifact and reading it back gives (`ReleaseTree.read`, `ArtifactLinks.read`): a wrong
/// digest here would be a wrong manifest on every host. Anything it does not read, it refuses.
@Suite("tar index: the release's tree from the artifact's own stream")
struct TarIndexTests {
    /// Names and kinds GNU tar writes in several ways: long names (GNU 'L'), long link targets
    /// ('K'), a hard link, sizes at and around the 512-byte blocks and the compressor's 1 MiB,
    /// modes, an empty file and directory, non-ASCII (NFC and NFD) and shell-hostile names.
    func variedTree() throws -> String {
        let dir = Local.tempDir("tarindex")
        let long = String(repeating: "d", count: 120) + "/" + String(repeating: "n", count: 150)
        try Local.run([
            "sh", "-c",
            """
            set -e; cd "$1"
            mkdir -p "a/b/empty" "$2" "locked" "x y"
            : > a/empty.txt
            head -c 512 /dev/urandom > a/b/exact512
            head -c 513 /dev/urandom > a/b/over512
            head -c 1048577 /dev/urandom > a/mib-and-one
            head -c 3000000 /dev/urandom > a/b/three-mb
            seq 1 100000 > "$2/long-named.txt"
            printf 'run\\n' > a/run.sh && chmod 750 a/run.sh
            ln -s "../$2/long-named.txt" a/long-link
            ln -s b a/dir-link
            ln -s /etc/hostname a/abs-link
            ln a/b/over512 a/hard-link
            printf 'q' > "x y/-dash 'q' \\"dq\\" \\$x;.txt"
            printf 'nfc' > "x y/caf\\303\\251" && printf 'nfd' > "x y/cafe\\314\\201"
            printf 'f' > locked/f && chmod 500 locked && chmod 700 a/b/empty
            """,
            "sh", dir, long,
        ])
        return dir
    }

    func expectSameAsExtracted(_ a: Artifact, ignoringRoot: Bool = false) throws {
        let index = try #require(a.tree, "the artifact's stream was refused")
        let read = try ReleaseTree.read(artifact: a.path, into: Local.tempDir("tarindex-read"))
        defer { try? Local.run(["chmod", "-R", "u+w", read.root]) }
        let slow = ignoringRoot ? read.entries.filter { $0.path != "." } : read.entries
        #expect(index.entries.count == slow.count)
        for (got, want) in zip(index.entries, slow) where got != want {
            Issue.record("index \(got) != extracted \(want)")
        }
        let links = try ArtifactLinks.read(tarball: a.path)
        #expect(a.links.symbolic == links.symbolic)
        #expect(a.links.hard == links.hard)
        #expect(a.links.paths == links.paths.subtracting([""]))
        #expect(index.manifest == read.manifest)
        // Every entry has its member name, and tar finds each one by it.
        #expect(Set(index.members.keys) == Set(index.entries.map(\.path)))
    }

    @Test func aDirectorysArtifactIndexesAsItExtracts() throws {
        let dir = try variedTree()
        defer { try? Local.run(["chmod", "-R", "u+w", dir]) }
        try expectSameAsExtracted(try Artifact.build(from: .directory(dir), workDir: Local.tempDir("work")))
    }

    /// With a `.shipitignore` the members come from a list (no `./` member for the release itself).
    @Test func aShipitignoredArtifactIndexesAsItExtracts() throws {
        let dir = try variedTree()
        defer { try? Local.run(["chmod", "-R", "u+w", dir]) }
        try "a/b/three-mb\n".write(toFile: dir + "/.shipitignore", atomically: true, encoding: .utf8)
        let a = try Artifact.build(from: .directory(dir), workDir: Local.tempDir("work"))
        #expect(a.tree?.entries.contains { $0.path == "./a/b/three-mb" } == false)
        try expectSameAsExtracted(a, ignoringRoot: true)
    }

    /// `git archive` writes POSIX ustar with pax headers (a global one with the commit, `path`
    /// for long names) and the commit's time on every member.
    @Test func aGitArtifactIndexesAsItExtracts() throws {
        let dir = try variedTree()
        try Local.run(["chmod", "-R", "u+w", dir])
        try Local.run([
            "sh", "-c",
            "cd \"$1\" && git init -q && git add -A && git -c user.name=t -c user.email=t@t commit -qm one",
            "sh", dir,
        ])
        let a = try Artifact.build(from: .git(repo: dir, ref: "HEAD"), workDir: Local.tempDir("work"))
        let tree = try #require(a.tree)
        #expect(tree.entries.contains { $0.path.count > 250 }, "the long name is in the index")
        #expect(tree.entries.allSatisfy { $0.mtime != "0" }, "git archive's members carry the commit's time")
        // git archive has no member for the release itself; extracting makes one.
        try expectSameAsExtracted(a, ignoringRoot: true)
    }

    /// The stream is indexed the same whatever pieces it comes in.
    @Test(arguments: [1, 7, 511, 513, 4096, 1 << 20])
    func piecesOfAnySizeGiveTheSameIndex(piece: Int) throws {
        let dir = try variedTree()
        defer { try? Local.run(["chmod", "-R", "u+w", dir]) }
        let tar = Local.tempDir("tarindex-pieces") + "/t.tar"
        try Local.run(["tar", "--sort=name", "-C", dir, "-cf", tar, "."])
        let bytes = try Data(contentsOf: URL(fileURLWithPath: tar))
        func index(_ size: Int) -> TarIndex {
            var i = TarIndex()
            bytes.withUnsafeBytes { all in
                var at = 0
                while at < all.count {
                    let n = min(size, all.count - at)
                    i.feed(UnsafeRawBufferPointer(rebasing: all[at..<at + n]))
                    at += n
                }
            }
            i.finish()
            return i
        }
        let whole = try #require(index(bytes.count).result)
        let pieces = try #require(index(piece).result)
        #expect(pieces.tree == whole.tree)
        #expect(pieces.links == whole.links)
        #expect(whole.tree.files.count == 12)
    }

    /// What it does not read, it refuses, and the artifact is read the slow way instead.
    @Test(arguments: ["fifo", "unknown pax key", "cut short", "bad checksum", "hard link to nothing", "sparse"])
    func refusesWhatItDoesNotRead(_ kind: String) throws {
        let dir = Local.tempDir("tarindex-refused")
        let tar = dir + "/t.tar"
        try Local.run([
            "sh", "-c",
            """
            set -e; cd "$1"; mkdir src; echo a > src/a; ln src/a src/b; head -c 40000 /dev/urandom > src/c
            case "$2" in
              fifo) mkfifo src/p; tar --sort=name -C src -cf t.tar . ;;
              "unknown pax key") tar --sort=name --format=pax --pax-option=shipit.test=1 -C src -cf t.tar . ;;
              "cut short") tar --sort=name -C src -cf full.tar . && head -c 2048 full.tar > t.tar ;;
              "bad checksum") tar --sort=name -C src -cf t.tar . && printf 'Z' | dd of=t.tar bs=1 seek=520 conv=notrunc 2>/dev/null ;;
              "hard link to nothing") tar --sort=name -C src -cf t.tar . && tar --delete -f t.tar ./a ;;
              sparse) truncate -s 5M src/s && tar --sort=name -S --format=pax -C src -cf t.tar . ;;
            esac
            """,
            "sh", dir, kind,
        ])
        let bytes = try Data(contentsOf: URL(fileURLWithPath: tar))
        var index = TarIndex()
        bytes.withUnsafeBytes { index.feed($0) }
        index.finish()
        #expect(index.result == nil)
        #expect(index.refused != nil)
    }

    /// A tar member that is not a file, directory or link (a FIFO) makes the artifact fall back:
    /// no tree from the stream, the links listed by tar.
    @Test func anArtifactItRefusesStillBuilds() throws {
        let dir = Local.tempDir("tarindex-fallback")
        try Local.run(["sh", "-c", "cd \"$1\" && echo a > a && ln -s a l && mkfifo p", "sh", dir])
        let a = try Artifact.build(from: .directory(dir), workDir: Local.tempDir("work"))
        #expect(a.tree == nil)
        #expect(a.links.symbolic.map(\.description) == ["l -> a"])
    }
}
