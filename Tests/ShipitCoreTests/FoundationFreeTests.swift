import Foundation
import SSH
import Testing

@testable import ShipitCore

/// What shipit does itself now that it links FoundationEssentials only: YAML through libyaml,
/// SQLite through its C API, local processes through posix_spawn, C formatting, time parsing.
@Suite("without Foundation: YAML, SQLite, processes, formatting")
struct FoundationFreeTests {
    @Test func composesYAMLWithLinesAndRefusesWhatConfigNeverNeeds() throws {
        let root = try #require(
            try YAMLComposer.compose(
                """
                app: demo
                hosts:
                  - a
                  - {host: b, roles: [worker]}
                env:
                  QUOTED: "x: y"
                """))
        guard case .mapping(let m) = root else {
            Issue.record("not a mapping")
            return
        }
        #expect(m.pairs.map { $0.key.string } == ["app", "hosts", "env"])
        guard case .sequence(let hosts) = m.pairs[1].value else {
            Issue.record("hosts not a list")
            return
        }
        #expect(hosts.items.count == 2 && hosts.items[0].string == "a" && hosts.items[1].line == 4)
        guard case .mapping(let env) = m.pairs[2].value else {
            Issue.record("env not a mapping")
            return
        }
        #expect(env.pairs[0].value.string == "x: y")

        #expect(try YAMLComposer.compose("") == nil)
        #expect(try YAMLComposer.compose("a: &x 1\nb: *x")?.string == nil)
        #expect(throws: YAMLComposer.Failure.self) { try YAMLComposer.compose("a: 1\n---\nb: 2\n") }
        do {
            _ = try YAMLComposer.compose("a: 1\nb: [1, 2\n")
            Issue.record("an unclosed list parsed")
        } catch let e as YAMLComposer.Failure {
            #expect(e.line >= 2)
        }
        // Hostile nesting is bounded, not a stack overflow.
        #expect(throws: YAMLComposer.Failure.self) { try YAMLComposer.compose(String(repeating: "[", count: 5000)) }
    }

    @Test func aConfigWithAnAnchorOrTwoDocumentsIsRefusedNamingTheFile() throws {
        #expect(throws: ShipitError.self) {
            try YAMLReader.parse("app: &a demo\nhosts: [h]\n", file: "x.yml").mapping(allowed: nil)
        }
        do {
            _ = try YAMLReader.parse("app: demo\n---\n", file: "x.yml")
            Issue.record("two documents accepted")
        } catch let e as ShipitError {
            #expect(e.message.hasPrefix("x.yml:") && e.message.contains("more than one YAML document"))
        }
    }

    @Test func sqliteRollsBackAFailedTransactionAndBindsNull() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("sqlite-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let db = try SQLiteDatabase(path: dir + "/t.db")
        try db.accessNow { db in
            try db.execute("CREATE TABLE t (k TEXT PRIMARY KEY, v REAL)")
            try db.run("INSERT INTO t VALUES (?, ?)", ["a", 1.5])
            #expect(throws: SQLiteDatabase.Failure.self) {
                try db.transaction {
                    try db.run("INSERT INTO t VALUES (?, ?)", ["b", nil])
                    try db.run("INSERT INTO t VALUES (?, ?)", ["a", 2.0])  // duplicate key
                }
            }
            #expect(try db.int("SELECT count(*) FROM t") == 1)
            try db.run("INSERT INTO t VALUES (?, ?)", ["c", nil])
            #expect(try db.double("SELECT v FROM t WHERE k = ?", ["c"]) == nil)
            #expect(try db.double("SELECT v FROM t WHERE k = ?", ["a"]) == 1.5)
            // More distinct statements than the cache keeps: the extra ones are finalized after use.
            for i in 0..<100 { #expect(try db.int("SELECT \(i) + count(*) FROM t") == Int64(i + 2)) }
            #expect(throws: SQLiteDatabase.Failure.self) { try db.run("SELECT * FROM missing") }
        }
    }

    @Test func localProcessesGetStdinTheExitCodeAndDefaultSignals() throws {
        #expect(try LocalProcess.run(["sh", "-c", "tr a-z A-Z"], stdin: Data("hello".utf8)) == "HELLO")
        let (status, out) = try LocalProcess.runStatus(["sh", "-c", "echo out; echo err >&2; exit 7"])
        #expect(status == 7 && out.contains("out") && out.contains("err"))
        #expect(try LocalProcess.runStatus(["sh", "-c", "kill -TERM $$"]).0 == SIGTERM)
        let (_, tail) = try LocalProcess.runStatus(["sh", "-c", "head -c 100000 /dev/zero | tr -c x x"], keepTail: 10)
        #expect(tail.hasPrefix("[99990 bytes of earlier output not kept]") && tail.hasSuffix("xxxxxxxxxx"))
        // An ignored signal in shipit is not inherited: a hook gets SIGPIPE and SIGINT as usual.
        let old = signal(SIGPIPE, SIG_IGN)
        defer { signal(SIGPIPE, old) }
        let ignored = try LocalProcess.run(["sh", "-c", "grep SigIgn /proc/self/status"])
        let mask = UInt64(ignored.split(separator: "\t").last!.trimmed(), radix: 16)!
        #expect(mask & (1 << (UInt64(SIGPIPE) - 1)) == 0)
        #expect(throws: LocalProcess.Failure.self) { try LocalProcess.run(["false"]) }
        // None of the deployer's other descriptors reaches the child (an open pipe here, say).
        var fds: [Int32] = [0, 0]
        #expect(pipe(&fds) == 0)
        defer {
            close(fds[0])
            close(fds[1])
        }
        #expect(
            try LocalProcess.run([
                "sh", "-c", "for f in \(fds[0]) \(fds[1]); do [ -e /proc/self/fd/$f ] && echo leaked $f; done; true",
            ]) == "")
        #expect(
            try LocalProcess.run(["/usr/bin/env", "X=1", "sh", "-c", "echo $X"], env: ["PATH": "/usr/bin:/bin"])
                == "1\n")
    }

    @Test func formatsNumbersAndPathsLikeFoundationDid() {
        #expect(String(cFormat: "%.2f s", 1.005) == String(format: "%.2f s", 1.005))
        #expect(String(cFormat: "%04d-%02x", 7, 255) == "0007-ff")
        let long = String(cFormat: "%0300d", 1)
        #expect(long.count == 300 && long.hasSuffix("1"))
        #expect(
            FilePath.directory(of: "/a/b/c") == "/a/b" && FilePath.directory(of: "/a") == "/"
                && FilePath.directory(of: "a") == "")
        #expect(FilePath.directory(of: "/a/b/") == "/a" && FilePath.lastComponent(of: "/a/b/") == "b")
        #expect(FilePath.join("/a/", "b") == "/a/b" && FilePath.join("", "b") == "b")
        #expect(
            "  x y \n".trimmed() == "x y" && "ab".padded(toLength: 4) == "ab  " && "abcdef".padded(toLength: 3) == "abc"
        )
    }

    @Test func parsesUTCTimesByHand() throws {
        let base = try #require(UTCTime.parse("2026-11-28T05:30:00Z"))
        #expect(base.timeIntervalSince1970 == 1_795_843_800)
        #expect(UTCTime.parse("2026-11-28T07:30:00+0200") == base)
        #expect(UTCTime.parse("2026-11-28") == UTCTime.parse("2026-11-28T00:00:00Z"))
        #expect(UTCTime.parse("2026-02-30") == nil)
        #expect(UTCTime.parse("2026-11-28T25:00") == nil)
        #expect(UTCTime.parse("2026-11-28T05:30:00.") == nil)
        #expect(UTCTime.parse("2026-11-28T05:30:00Zjunk") == nil)
        #expect(UTCTime.iso(base) == "2026-11-28T05:30:00.000Z")
    }

    @Test func decodesJSONOfUnknownShape() throws {
        let v = try #require(JSONValue.parse(#"{"a":[1,"x",true,null,{"b":2.5}]}"#))
        #expect(v["a"]?.array?.count == 5 && v["a"]?.array?[1].string == "x" && v["a"]?.array?[3] == .null)
        #expect(DeployerHTTP.number(in: v, at: "a.4.b") == 2.5)
        #expect(
            String(decoding: JSONValue.object(["z": .number(1), "a": .string("/")]).encoded(), as: UTF8.self)
                == #"{"a":"/","z":1}"#)
        #expect(JSONValue.parse("{") == nil)
    }
}
