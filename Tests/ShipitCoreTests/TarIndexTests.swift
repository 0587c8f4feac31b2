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
            printf 'nfc' > "x y/$(printf 'caf\\303\\251')" && printf 'nfd' > "x y/$(printf 'cafe\\314\\201')"
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
        // Every entry has its member name, and tar finds each one by it (as a delta extracts).
        let names = try index.entries.map { e in try #require(index.members[Array(e.path.utf8)]) }
        let dir = Local.tempDir("tarindex-members")
        try names.map { $0 + "\0" }.joined().write(toFile: dir + "/list", atomically: false, encoding: .utf8)
        try Local.run([
            "tar", "-xf", a.path, "-C", dir, "--no-recursion", "--null", "--verbatim-files-from", "-T", dir + "/list",
        ])
        defer { try? Local.run(["chmod", "-R", "u+w", dir]) }
        let found = try Local.run(["sh", "-c", "cd \"$1\" && find . -type f ! -name list | wc -l", "sh", dir])
        #expect(Int(found.trimmingCharacters(in: .whitespacesAndNewlines)) == index.files.count)
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

    /// Header forms GNU tar and git archive rarely write for a small tree, built by hand and
    /// checked against what GNU tar extracts from the same bytes: a POSIX `prefix`, a base-256
    /// size, and a pax header whose `path` and `size` override the member's own.
    @Test func handBuiltHeadersIndexAsGNUTarExtractsThem() throws {
        func header(
            _ name: String, type: Character = "0", size: Int, prefix: String = "", base256: Bool = false
        ) -> [UInt8] {
            var h = [UInt8](repeating: 0, count: 512)
            func put(_ text: String, _ at: Int) { for (i, b) in text.utf8.enumerated() { h[at + i] = b } }
            put(name, 0)
            put("0000644", 100)
            put("0000000", 108)
            put("0000000", 116)
            if base256 {
                h[124] = 0x80
                var v = size
                for i in stride(from: 135, through: 125, by: -1) {
                    h[i] = UInt8(v & 0xff)
                    v >>= 8
                }
            } else {
                put(String(size, radix: 8).leftPadded(to: 11), 124)
            }
            put("00000000000", 136)
            h[156] = type.asciiValue!
            put("ustar", 257)
            put("00", 263)
            put(prefix, 345)
            for i in 148..<156 { h[i] = 32 }
            put(String(h.reduce(0) { $0 + Int($1) }, radix: 8).leftPadded(to: 6), 148)
            h[154] = 0
            return h
        }
        func padded(_ data: [UInt8]) -> [UInt8] { data + [UInt8](repeating: 0, count: (512 - data.count % 512) % 512) }
        func paxRecord(_ key: String, _ value: String) -> String {
            let body = " \(key)=\(value)\n"
            var n = body.utf8.count + 1
            while String(n).utf8.count + body.utf8.count != n { n += 1 }
            return "\(n)\(body)"
        }
        let a = [UInt8]((0..<600).map { UInt8($0 % 251) })
        let b = [UInt8]((0..<1000).map { UInt8($0 % 13) })
        let pax = Array(
            (paxRecord("path", "from-pax/" + String(repeating: "p", count: 120)) + paxRecord("size", "1000")).utf8)
        var stream = header("in-prefix.txt", size: 3, prefix: "deep/pre") + padded(Array("abc".utf8))
        stream += header("big.bin", size: a.count, base256: true) + padded(a)
        stream += header("PaxHeaders/x", type: "x", size: pax.count) + padded(pax)
        stream += header("short-name", size: 7) + padded(b)
        stream += [UInt8](repeating: 0, count: 1024)
        let dir = Local.tempDir("tarindex-hand")
        try Data(stream).write(to: URL(fileURLWithPath: dir + "/t.tar"))

        var index = TarIndex()
        stream.withUnsafeBytes { index.feed($0) }
        index.finish()
        let tree = try #require(index.result?.tree, "\(index.refused ?? "")")
        let paths = tree.files.map(\.path)
        #expect(paths == ["./big.bin", "./deep/pre/in-prefix.txt", "./from-pax/" + String(repeating: "p", count: 120)])
        try FileManager.default.createDirectory(atPath: dir + "/x", withIntermediateDirectories: true)
        try Local.run(["tar", "-xf", dir + "/t.tar", "-C", dir + "/x"])
        for e in tree.files {
            let file = dir + "/x/" + e.path.dropFirst(2)
            #expect(try Local.sha256(file) == e.digest, "\(e.path)")
            #expect((try FileManager.default.attributesOfItem(atPath: file)[.size] as? Int).map(Int64.init) == e.size)
        }
    }
}

extension String {
    fileprivate func leftPadded(to width: Int) -> String {
        String(repeating: "0", count: max(0, width - count)) + self
    }
}

/// Random trees (a fixed seed, so a failure names its tree): names with spaces, quotes, non-ASCII
/// letters and components long enough for GNU's long names, files of sizes around tar's blocks,
/// modes, symbolic and hard links. The index must equal what extracting the artifact gives.
@Suite("tar index: random trees")
struct TarIndexRandomTests {
    struct Seeded: RandomNumberGenerator {
        var state: UInt64
        mutating func next() -> UInt64 {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return state
        }
    }

    @Test(arguments: [1, 2, 3, 4, 5] as [UInt64])
    func aRandomTreeIndexesAsItExtracts(seed: UInt64) throws {
        var rng = Seeded(state: seed)
        let root = Local.tempDir("tarindex-random")
        let letters = Array("abcXYZ09 _-.'\"é€ß")
        func name() -> String {
            let n = [1, 3, 8, 40, 130].randomElement(using: &rng)!
            var s = String((0..<n).map { _ in letters.randomElement(using: &rng)! })
            if s.hasPrefix(".") || s.hasPrefix("-") { s = "n" + s }
            return s.trimmingCharacters(in: .whitespaces).isEmpty ? "n" : s
        }
        var dirs = [""]
        var files: [String] = []
        for _ in 0..<40 {
            let parent = dirs.randomElement(using: &rng)!
            let path = parent.isEmpty ? name() : parent + "/" + name()
            let full = root + "/" + path
            guard !FileManager.default.fileExists(atPath: full), path.split(separator: "/").count < 5 else { continue }
            switch Int.random(in: 0..<10, using: &rng) {
            case 0..<3:
                try FileManager.default.createDirectory(atPath: full, withIntermediateDirectories: false)
                dirs.append(path)
            case 3..<8:
                let size = [0, 1, 511, 512, 513, 10_000, 70_000, 1_048_577].randomElement(using: &rng)!
                let bytes = (0..<size).map { _ in UInt8.random(in: 0...255, using: &rng) }
                try Data(bytes).write(to: URL(fileURLWithPath: full))
                let mode = [0o644, 0o600, 0o755, 0o444].randomElement(using: &rng)!
                try FileManager.default.setAttributes([.posixPermissions: mode], ofItemAtPath: full)
                files.append(path)
            case 8:
                let target = files.randomElement(using: &rng).map { "../" + $0 } ?? "nowhere"
                try FileManager.default.createSymbolicLink(atPath: full, withDestinationPath: target)
            default:
                guard let other = files.randomElement(using: &rng) else { continue }
                try FileManager.default.linkItem(atPath: root + "/" + other, toPath: full)
            }
        }
        for d in dirs.dropFirst() where Bool.random(using: &rng) {
            try FileManager.default.setAttributes([.posixPermissions: 0o750], ofItemAtPath: root + "/" + d)
        }
        let a = try Artifact.build(from: .directory(root), workDir: Local.tempDir("work"))
        let index = try #require(a.tree, "seed \(seed)")
        // Not a trivial tree: files, and names past the 100 bytes of a plain tar header.
        #expect(index.files.count >= 10 && index.entries.contains { $0.path.utf8.count > 100 }, "seed \(seed)")
        let read = try ReleaseTree.read(artifact: a.path, into: Local.tempDir("tarindex-random-read"))
        #expect(index.entries.count == read.entries.count, "seed \(seed)")
        for (got, want) in zip(index.entries, read.entries) where got != want {
            Issue.record("seed \(seed): index \(got) != extracted \(want)")
        }
        let links = try ArtifactLinks.read(tarball: a.path)
        #expect(a.links.symbolic == links.symbolic && a.links.hard == links.hard, "seed \(seed)")
        #expect(index.manifest == read.manifest, "seed \(seed)")
    }
}
