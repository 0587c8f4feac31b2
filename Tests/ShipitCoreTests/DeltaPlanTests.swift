import ShipitCore
import Testing

/// Which files a delta sends and which the host copies (pure; the integration tests run it).
@Suite("delta plan: what travels, what the host copies")
struct DeltaPlanTests {
    func file(_ path: String, _ digest: Character, size: Int64 = 1000, mode: String = "644") -> ReleaseTree.Entry {
        ReleaseTree.Entry(kind: .file, path: path, mode: mode, size: size, digest: String(repeating: digest, count: 64))
    }

    var tree: ReleaseTree {
        ReleaseTree(
            entries: [
                ReleaseTree.Entry(kind: .directory, path: ".", mode: "700", mtime: "0"),
                ReleaseTree.Entry(kind: .directory, path: "./assets", mode: "755", mtime: "1700000000"),
                file("./assets/big.bin", "a", size: 900_000),
                file("./assets/run.sh", "b", size: 50_000, mode: "755"),
                ReleaseTree.Entry(kind: .symlink, path: "./latest", mode: "777"),
                file("./VERSION", "c", size: 10),
            ], root: "/nowhere")
    }

    func manifest(_ lines: [(Character, String)]) -> String {
        lines.map { String(repeating: $0.0, count: 64) + "  " + $0.1 + "\n" }.joined()
    }

    @Test func sameDigestAtTheSamePathIsCopiedFromTheFirstKeptReleaseThatHasIt() throws {
        let current = DeltaPlan.Kept(
            id: "r2", manifest: manifest([("a", "./assets/big.bin"), ("f", "./VERSION")]).utf8)
        let older = DeltaPlan.Kept(
            id: "r1", manifest: manifest([("a", "./assets/big.bin"), ("b", "./assets/run.sh")]).utf8)
        let plan = try #require(DeltaPlan.plan(tree, kept: [current, older]))
        #expect(plan.copies.map(\.id) == ["r2", "r1"])
        #expect(plan.copies.map(\.paths) == [["./assets/big.bin"], ["./assets/run.sh"]])
        // Directories (the release's own too) and links always travel; VERSION changed.
        #expect(plan.send.map(\.path) == [".", "./assets", "./latest", "./VERSION"])
        #expect(plan.sentBytes == 10 && plan.copiedBytes == 950_000 && plan.copiedFiles == 2)
        // Copies and directories get the archived mode and time back after the copies.
        #expect(plan.modes.map(\.mode) == ["644", "700", "755"])
        #expect(plan.modes.map(\.paths) == [["./assets/big.bin"], ["."], ["./assets", "./assets/run.sh"]])
        #expect(plan.mtimes.map(\.mtime) == ["0", "1700000000"])
        #expect(plan.mtimes.map(\.paths) == [[".", "./assets/big.bin", "./assets/run.sh"], ["./assets"]])
        let control = plan.controlFiles(tree).map(\.name)
        #expect(
            control == [
                "copy.r2", "copy.r1", "mode.644", "mode.700", "mode.755", "mtime.0", "mtime.1700000000", "expected",
            ])
        #expect(plan.controlFiles(tree).last!.text == tree.manifest)
    }

    @Test func aFileAtAnotherPathOrWithAnotherDigestTravels() throws {
        let kept = DeltaPlan.Kept(
            id: "r1", manifest: manifest([("a", "./old/big.bin"), ("x", "./assets/run.sh")]).utf8)
        #expect(DeltaPlan.plan(tree, kept: [kept]) == nil)
    }

    @Test func tooLittleToCopyIsAFullUpload() {
        let kept = DeltaPlan.Kept(id: "r1", manifest: manifest([("c", "./VERSION")]).utf8)
        #expect(DeltaPlan.plan(tree, kept: [kept]) == nil)
        #expect(DeltaPlan.plan(tree, kept: [kept], minimumShare: 0) != nil)
        #expect(DeltaPlan.plan(tree, kept: []) == nil)
    }

    @Test(arguments: ["./a\nb", "./a\r\nb", "./a\\b", "./a\u{FFFD}b", "./.shipit-delta", "./.shipit-delta/copy.x"])
    func namesTheListsCannotCarryAreAFullUpload(name: String) {
        var t = tree
        t.entries.append(file(name, "d"))
        let kept = DeltaPlan.Kept(id: "r1", manifest: manifest([("a", "./assets/big.bin")]).utf8)
        #expect(DeltaPlan.plan(t, kept: [kept]) == nil)
    }

    /// sha256sum escapes a name with a newline or a backslash (a leading `\`): such lines name
    /// nothing to copy, and short or malformed lines are skipped.
    @Test func manifestLinesSha256sumEscapedAreSkipped() {
        let text =
            "\\" + String(repeating: "a", count: 64) + "  ./a\\nb\n" + String(repeating: "b", count: 64) + "  ./ok\n"
            + "short line\n"
        #expect(
            DeltaPlan.Kept(id: "r", manifest: text.utf8).files == [
                Array("./ok".utf8): String(repeating: "b", count: 64)
            ])
    }

    /// Two names Unicode calls equal (é as one code point, and as e + a combining accent) are two
    /// files: neither is copied for the other.
    @Test func namesAreMatchedByTheirBytesNotByUnicodeEquivalence() throws {
        let nfc = "./caf\u{E9}.txt"
        let nfd = "./cafe\u{301}.txt"
        #expect(nfc == nfd)  // Swift's String equality, which a path must not use
        var t = tree
        t.entries.append(file(nfd, "e", size: 900_000))
        let kept = DeltaPlan.Kept(id: "r1", manifest: manifest([("a", "./assets/big.bin"), ("e", nfc)]).utf8)
        let plan = try #require(DeltaPlan.plan(t, kept: [kept]))
        #expect(plan.send.map(\.path).contains(nfd))
        #expect(plan.copies.map(\.paths) == [["./assets/big.bin"]])
    }
}
