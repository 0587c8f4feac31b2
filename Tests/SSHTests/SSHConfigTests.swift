import Foundation
import SSH
import Testing

@Suite("ssh_config: Host patterns, Include, first value wins")
struct SSHConfigTests {
    let home = "/home/op"

    func parse(_ text: String) throws -> SSHConfig { try SSHConfig.parse(text, file: "cfg", home: home) }

    @Test func hostPatternsWithWildcardsAndNegation() throws {
        let c = try parse(
            """
            # fleet
            Host web-? !web-9
              User deploy
            Host *.internal db*
              Port 2222
            Host *
              User fallback
              IdentityFile ~/.ssh/id_%h
            """)
        #expect(c.resolve("web-1", localUser: "me").user == "deploy")
        #expect(c.resolve("web-9", localUser: "me").user == "fallback")
        #expect(c.resolve("web-10", localUser: "me").user == "fallback")
        #expect(c.resolve("a.internal", localUser: "me").port == 2222)
        #expect(c.resolve("db-1", localUser: "me").port == 2222)
        #expect(c.resolve("WEB-1", localUser: "me").user == "deploy")
        #expect(c.resolve("web-1", localUser: "me").identityFiles == ["/home/op/.ssh/id_web-1"])
    }

    @Test func theFirstValueWinsAndIdentityFilesAccumulate() throws {
        let c = try parse(
            """
            Host bastion
              HostName 10.0.0.5
              User=jump
              IdentityFile "/keys/one key"
            Host b*
              HostName ignored.example
              Port = 2200
              IdentityFile /keys/two
              ProxyJump none
              ConnectTimeout 7
              UserKnownHostsFile ~/.ssh/known_%h /etc/ssh/other
              StrictHostKeyChecking accept-new
              SomeUnknownKeyword whatever
            """)
        let r = c.resolve("bastion", localUser: "me")
        #expect(r.hostName == "10.0.0.5")
        #expect(r.user == "jump")
        #expect(r.port == 2200)
        #expect(r.identityFiles == ["/keys/one key", "/keys/two"])
        #expect(r.proxyJump.isEmpty)
        #expect(r.connectTimeout == 7)
        #expect(r.userKnownHostsFiles == ["/home/op/.ssh/known_10.0.0.5", "/etc/ssh/other"])
        #expect(r.strictHostKeyChecking == "accept-new")
        #expect(c.resolve("nothing-matches", localUser: "me") == SSHConfig.Resolved())
    }

    @Test func proxyJumpChainsAndTokens() throws {
        let c = try parse(
            """
            Host app-*
              HostName %h.prod.internal
              ProxyJump ops@bastion:2222,inner
            """)
        let r = c.resolve("app-3", localUser: "me")
        #expect(r.hostName == "app-3.prod.internal")
        #expect(r.proxyJump == ["ops@bastion:2222", "inner"])
    }

    @Test func includeIsRelativeToDotSSHAndKeepsTheIncludingBlocksState() throws {
        let dir = NSTemporaryDirectory() + "sshcfg-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: dir + "/.ssh/conf.d", withIntermediateDirectories: true)
        try "Host inc-*\n  User from-include\nHost other\n  Port 2300\n".write(
            toFile: dir + "/.ssh/conf.d/a.conf", atomically: true, encoding: .utf8)
        try "Port 2400\n".write(toFile: dir + "/.ssh/conf.d/b.conf", atomically: true, encoding: .utf8)
        let c = try SSHConfig.parse(
            """
            Include conf.d/a.conf
            Host only-this
              Include conf.d/b.conf
            Host *
              User last
            """, file: "main", home: dir)
        #expect(c.resolve("inc-1", localUser: "me").user == "from-include")
        #expect(c.resolve("only-this", localUser: "me").port == 2400)
        // b.conf was included inside `Host only-this`: it says nothing about other hosts.
        #expect(c.resolve("other", localUser: "me").port == 2300)
        #expect(c.resolve("zzz", localUser: "me").port == nil)
        #expect(c.resolve("zzz", localUser: "me").user == "last")
    }

    @Test func matchBlocksAreSkippedExceptMatchAll() throws {
        let c = try parse(
            """
            Match host foo exec "true"
              User from-match
            Match all
              Port 2500
            """)
        #expect(c.resolve("foo", localUser: "me").user == nil)
        #expect(c.resolve("foo", localUser: "me").port == 2500)
    }

    @Test func badValuesNameTheFileAndLine() throws {
        #expect(throws: SSHConfig.ParseError.self) { try parse("Host a\n  Port http\n") }
        do { _ = try parse("Host a\n  Port 99999\n") } catch let e as SSHConfig.ParseError {
            #expect(e.description == "cfg:2: Port: expected a TCP port, got '99999'")
        }
        #expect(throws: SSHConfig.ParseError.self) { try parse("Host a\n  HostName \"unterminated\n") }
        #expect(throws: SSHConfig.ParseError.self) { try SSHConfig.load(path: "/nonexistent/ssh_config") }
    }
}
