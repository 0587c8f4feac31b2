import Foundation
import ShipitCore
import TestSupport
import Testing

/// The artifact's gzip: deflated where that shrinks it, stored where not; always one gzip stream
/// that gzip, GNU tar and BusyBox read back byte for byte, and the same bytes for the same input.
@Suite("adaptive gzip: compress what shrinks, store what does not")
struct AdaptiveGzipTests {
    /// `parts` of 1 MiB: "r" random, "t" text.
    func input(_ parts: String) async throws -> String {
        let dir = Local.tempDir("agz")
        var script = ": > \"$1/in\"\n"
        for p in parts {
            script +=
                p == "r"
                ? "head -c 1048576 /dev/urandom >> \"$1/in\"\n"
                : "yes 'shipit deploys releases to hosts over ssh' | head -c 1048576 >> \"$1/in\"\n"
        }
        try await Local.run(["sh", "-c", script, "sh", dir])
        return dir + "/in"
    }

    @Test(arguments: ["rrrr", "tttt", "rrtt", "ttrr", "trtr", "", "r"])
    func roundTripsAndStoresOnlyWhatDoesNotShrink(parts: String) async throws {
        let path = try await input(parts)
        let r = try AdaptiveGzip.compress(file: path, to: path + ".gz")
        let back = try await Local.run(["sh", "-c", "gzip -dc < \"$1.gz\" | cmp - \"$1\" && echo same", "sh", path])
        #expect(back.trimmingCharacters(in: .whitespacesAndNewlines) == "same")
        let size = try FileManager.default.attributesOfItem(atPath: path + ".gz")[.size] as! Int
        let random = parts.filter { $0 == "r" }.count
        let text = parts.count - random
        #expect(r.blocks == parts.count && r.bytesOut == Int64(size))
        // Random MiBs cost about their size (stored), text MiBs almost nothing (deflated).
        #expect(size <= random * 1_049_000 + text * 40_000 + 200)
        #expect(r.storedBlocks == random, "\(r)")
        #expect(r.sha256 == (try Digest.sha256Hex(file: path + ".gz")))
        // Deterministic: the same input gives the same bytes (the release id depends on it).
        try AdaptiveGzip.compress(file: path, to: path + ".again.gz")
        #expect(
            try Data(contentsOf: URL(fileURLWithPath: path + ".gz"))
                == Data(contentsOf: URL(fileURLWithPath: path + ".again.gz")))
    }

    /// The plain copy asked for stays only where gzip saved too little to be worth unpacking (then
    /// it is the input byte for byte, with its sha256), and is gone as soon as gzip saved a tenth
    /// past the first blocks, or at the end where it saved enough.
    @Test(arguments: [
        ("rrrr", true), ("rrrrrrrrrr", true), ("tttttttttt", false), ("ttttttttrr", false), ("rrt", false),
        ("rrrrrrrrrrrrrrrrrrrt", true),
    ])
    func aPlainCopyIsKeptOnlyWhereGzipIsNotWorthIt(parts: String, kept: Bool) async throws {
        let path = try await input(parts)
        let r = try AdaptiveGzip.compress(file: path, to: path + ".gz", plain: path + ".tar")
        #expect(AdaptiveGzip.notWorthUnpacking(r) == kept, "\(r)")
        #expect(FileManager.default.fileExists(atPath: path + ".tar") == kept)
        if kept {
            #expect(r.plainSHA256 == (try Digest.sha256Hex(file: path)))
            #expect(
                try Data(contentsOf: URL(fileURLWithPath: path + ".tar"))
                    == Data(contentsOf: URL(fileURLWithPath: path))
            )
        } else {
            #expect(r.plainSHA256 == nil)
        }
        // The gzip stream is the same with or without the copy.
        let alone = try AdaptiveGzip.compress(file: path, to: path + ".alone.gz")
        #expect(alone.sha256 == r.sha256)
    }

    /// A copy dropped early (gzip saved a tenth of the first blocks) is gone, even where the
    /// whole stream ends up not worth unpacking: the artifact is then inflated back instead.
    @Test func aCopyDroppedEarlyIsGoneAndTheStreamStillInflatesToTheInput() async throws {
        let path = try await input("t" + String(repeating: "r", count: 30))
        let r = try AdaptiveGzip.compress(file: path, to: path + ".gz", plain: path + ".tar", plainJudgedAfter: 1)
        #expect(AdaptiveGzip.notWorthUnpacking(r), "\(r)")
        #expect(r.plainSHA256 == nil)
        #expect(!FileManager.default.fileExists(atPath: path + ".tar"))
        let sha = try AdaptiveGzip.decompress(file: path + ".gz", to: path + ".inflated")
        #expect(sha == (try Digest.sha256Hex(file: path)))
    }

    /// A tarball so packed is read by GNU tar and by BusyBox's (a host may have either).
    @Test func gnuTarAndBusyBoxExtractIt() async throws {
        let dir = Local.tempDir("agz-tar")
        try await Local.run([
            "sh", "-c",
            "mkdir -p \"$1/src/a\" && head -c 3000000 /dev/urandom > \"$1/src/a/blob\" && seq 1 200000 > \"$1/src/a/text\" && tar -C \"$1/src\" -cf \"$1/t.tar\" .",
            "sh", dir,
        ])
        try AdaptiveGzip.compress(file: dir + "/t.tar", to: dir + "/t.tar.gz")
        let out = try await Local.run([
            "sh", "-c",
            "mkdir \"$1/gnu\" \"$1/bb\" && tar -xzf \"$1/t.tar.gz\" -C \"$1/gnu\" && busybox tar -xzf \"$1/t.tar.gz\" -C \"$1/bb\" && diff -r \"$1/src\" \"$1/gnu\" && diff -r \"$1/src\" \"$1/bb\" && echo same",
            "sh", dir,
        ])
        #expect(out.trimmingCharacters(in: .whitespacesAndNewlines) == "same")
    }

    /// The archiver writes into a FIFO the compressor reads: its failure fails the build, whether
    /// it wrote something first or never opened the FIFO at all (no reader left waiting for ever).
    @Test func aFailingWriterFailsTheBuildAndNeverHangsIt() throws {
        let dir = Local.tempDir("agz-fifo")
        let fifo = dir + "/t.fifo"
        #expect(throws: (any Error).self) {
            try AdaptiveGzip.compress(from: ["false"], through: fifo, to: dir + "/a.gz")
        }
        #expect(throws: (any Error).self) {
            try AdaptiveGzip.compress(
                from: ["sh", "-c", "echo partial > \"$1\"; exit 3", "sh", fifo], through: fifo, to: dir + "/b.gz")
        }
        let ok = try AdaptiveGzip.compress(
            from: ["sh", "-c", "seq 1 100000 > \"$1\"", "sh", fifo], through: fifo, to: dir + "/c.gz")
        #expect(ok.bytesIn == 588_895 && !FileManager.default.fileExists(atPath: fifo))
    }
}
