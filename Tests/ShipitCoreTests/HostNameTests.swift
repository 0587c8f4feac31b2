import Foundation
import ShipitCore
import Testing

@Suite("host names and connection settings")
struct HostNameTests {
    @Test func parsesAList() throws {
        #expect(try HostName.parseList("127.0.0.11,127.0.0.12", field: "--hosts") == ["127.0.0.11", "127.0.0.12"])
        #expect(try HostName.parseList(" web-1.example.com , ::1 ", field: "--hosts") == ["web-1.example.com", "::1"])
    }

    @Test(arguments: [
        "a;b", "$(id)", "host name", "../etc", "-oProxyCommand=x", "a`b`", "h\nx", "a'b", ".hidden", "a..b",
        "user@host",
    ])
    func refusesHostileNamesNamingTheField(name: String) {
        do {
            _ = try HostName.parseList(name, field: "--hosts")
            Issue.record("accepted \(name)")
        } catch let e as ShipitError {
            #expect(e.message.hasPrefix("--hosts:"))
            #expect(e.exitCode == .usage)
        } catch {
            Issue.record("unexpected \(error)")
        }
    }

    @Test func refusesEmptyAndDuplicates() {
        #expect(throws: ShipitError.self) { try HostName.parseList(",,", field: "--hosts") }
        #expect(throws: ShipitError.self) { try HostName.parseList("a,b,a", field: "--hosts") }
    }

    @Test func validatesSettings() throws {
        try ConnectionSettings(user: "deploy", useAgent: false).validate()
        #expect(throws: ShipitError.self) { try ConnectionSettings(user: "de ploy").validate() }
        #expect(throws: ShipitError.self) { try ConnectionSettings(user: "-oX").validate() }
        #expect(throws: ShipitError.self) { try ConnectionSettings(user: "d", port: 0).validate() }
        #expect(throws: ShipitError.self) {
            try ConnectionSettings(user: "d", identities: ["/nonexistent/key"]).validate()
        }
        #expect(throws: ShipitError.self) { try ConnectionSettings(user: "d", parallel: 0).validate() }
    }

    @Test func lineSplitter() {
        var s = LineSplitter()
        #expect(s.feed(Data("a\nb".utf8)) == ["a"])
        #expect(s.feed(Data("c\r\nd\n".utf8)) == ["bc", "d"])
        #expect(s.feed(Data([0xFF, 0x0A])) == ["\u{FFFD}"])
        #expect(s.feed(Data("tail".utf8)) == [])
        #expect(s.finish() == ["tail"])
        #expect(s.finish() == [])
    }

    @Test func aLineWithoutEndIsHandedOutInBoundedPieces() {
        var s = LineSplitter(maxLine: 8)
        var pieces: [String] = []
        for _ in 0..<5 { pieces += s.feed(Data("xxxxxx".utf8)) }  // 30 bytes, no newline
        pieces += s.feed(Data("\n".utf8)) + s.finish()
        #expect(pieces == ["xxxxxxxx", "xxxxxxxx", "xxxxxxxx", "xxxxxx"])
        // A multi-byte character at the cut stays whole.
        var u = LineSplitter(maxLine: 4)
        #expect(u.feed(Data("abcé\n".utf8)) == ["abc", "é"])
        // 2 MB without a newline, fed in chunks: every piece is bounded, nothing is lost.
        var big = LineSplitter()
        var total = 0
        for _ in 0..<64 {
            for piece in big.feed(Data(repeating: 0x78, count: 32 * 1024)) {
                #expect(piece.utf8.count <= LineSplitter.defaultMaxLine)
                total += piece.utf8.count
            }
        }
        total += big.finish().reduce(0) { $0 + $1.utf8.count }
        #expect(total == 2 * 1024 * 1024)
    }
}
