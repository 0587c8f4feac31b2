import Foundation
import ShipitCore
import TestSupport
import Testing

@Suite("shell quoting and remote commands")
struct QuotingTests {
    static let hostile = [
        "plain", "", "with space", "semi;colon", "$(touch /tmp/pwned)", "`id`", "it's", "\"double\"",
        "new\nline", "back\\slash", "glob*?[a]", "~user", "a|b&c>d<e", "-n", "--flag=x", "tab\there", "üñíçødé",
        "'", "''", "\\'", "$HOME", "!bang", "#hash",
    ]

    @Test func safeWordsStayReadable() {
        #expect(ShellQuote.quote("releases/20261128-abc") == "releases/20261128-abc")
        #expect(ShellQuote.quote("a b") == "'a b'")
        #expect(ShellQuote.quote("") == "''")
        #expect(ShellQuote.quote("it's") == "'it'\\''s'")
    }

    /// The real test of quoting: a real shell must hand back exactly the original bytes.
    @Test(arguments: hostile)
    func aRealShellRoundTripsEveryValue(value: String) throws {
        let script = "printf '%s' " + ShellQuote.quote(value)
        let out = try Local.run(["sh", "-c", script])
        #expect(out == value)
    }

    @Test func argvIsQuotedPerElement() throws {
        let cmd = RemoteCommand(["printf", "%s|", "a b", "$(x)", "c;d"])
        #expect(cmd.rendered == "printf '%s|' 'a b' '$(x)' 'c;d'")
        #expect(try Local.run(["sh", "-c", cmd.rendered]) == "a b|$(x)|c;d|")
    }

    @Test func envAndCwdAreQuoted() throws {
        let cmd = RemoteCommand(
            ["sh", "-c", "printf '%s' \"$GREETING\"; pwd"], env: [("GREETING", "hi; rm -rf /")], cwd: "/tmp")
        #expect(cmd.rendered.hasPrefix("cd /tmp && GREETING='hi; rm -rf /' exec "))
        #expect(try Local.run(["sh", "-c", cmd.rendered]) == "hi; rm -rf //tmp\n")
    }

    @Test func scriptWithEnvExportsIt() throws {
        let cmd = RemoteCommand(script: "echo \"$A\" && echo \"$B\"", env: [("A", "x y"), ("B", "$(id)")])
        #expect(try Local.run(["sh", "-c", cmd.rendered]) == "x y\n$(id)\n")
    }

    @Test func envNames() {
        #expect(RemoteCommand.isValidEnvName("SHIPIT_APP"))
        #expect(RemoteCommand.isValidEnvName("_x1"))
        #expect(!RemoteCommand.isValidEnvName("1X"))
        #expect(!RemoteCommand.isValidEnvName("A-B"))
        #expect(!RemoteCommand.isValidEnvName("A;B"))
        #expect(!RemoteCommand.isValidEnvName(""))
    }
}
