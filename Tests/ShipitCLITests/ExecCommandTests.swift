import Foundation
import ShipitCore
import TestSupport
import Testing

@testable import shipit

@Suite("shipit exec: option parsing and real runs")
struct ExecCommandTests {
    let hosts = TestHosts.current

    @Test func parsesHostOptionsAndTheCommandAfterTheTerminator() async throws {
        let cmd = try ExecCommand.parse([
            "--hosts", "a,b", "--user", "u", "--identity", "/k1", "--identity", "/k2",
            "--known-hosts", "/kh", "--port", "2222", "--timeout", "5", "--", "ls", "-l", "my dir",
        ])
        #expect(cmd.command == ["ls", "-l", "my dir"])
        #expect(cmd.timeout == 5)
        let s = try cmd.hostOptions.apply(to: ConnectionSettings(user: "base"))
        #expect(s.user == "u")
        #expect(s.identities == ["/k1", "/k2"])
        #expect(s.knownHostsPath == "/kh")
        #expect(s.port == 2222)
        #expect(s.hostKeyPolicy == .strict)
    }

    @Test func hostKeysAreStrictUnlessAskedOtherwise() async throws {
        let cmd = try ExecCommand.parse(["--hosts", "a", "--accept-new-host-keys", "--", "true"])
        #expect(try cmd.hostOptions.apply(to: ConnectionSettings()).hostKeyPolicy == .acceptNew)
    }

    private func shipit(_ args: [String]) async throws -> (Int32, String, String) {
        let r = try await ShipitBinary().run(args)
        return (r.status, r.stdout, r.stderr)
    }

    private var common: [String] {
        [
            "--hosts", hosts.hosts.joined(separator: ","), "--user", hosts.user, "--identity", hosts.identity,
            "--known-hosts", hosts.knownHosts,
        ]
    }

    @Test func runsOnEveryHostWithPrefixedLines() async throws {
        let (code, out, err) = try await shipit(["exec"] + common + ["--", "echo hello; echo oops >&2"])
        #expect(code == 0)
        for h in hosts.hosts {
            #expect(out.contains("\(h) | hello"))
            #expect(err.contains("\(h) ! oops"))
        }
    }

    @Test func argvFormQuotesEachArgument() async throws {
        let (code, out, _) = try await shipit(["exec"] + common + ["--", "printf", "%s\\n", "a b", "$(id)"])
        #expect(code == 0)
        #expect(out.contains("\(hosts.hosts[0]) | a b"))
        #expect(out.contains("\(hosts.hosts[0]) | $(id)"))
    }

    @Test func failingHostMakesTheRunFailAndIsNamed() async throws {
        let target = hosts.hosts[1]
        let (code, _, err) = try await shipit(
            ["exec"] + common + ["--", "set -- $SSH_CONNECTION; test \"$3\" != \(target)"])
        #expect(code == 1)
        #expect(err.contains("FAILED \(target): exit 1"))
        #expect(err.contains("1 of \(hosts.hosts.count) host(s) failed: \(target)"))
    }

    @Test func badInputIsRefusedBeforeConnecting() async throws {
        let (code, _, err) = try await shipit(["exec", "--hosts", "a;reboot", "--", "true"])
        #expect(code == 2)
        #expect(err.contains("--hosts:"))
        let (code2, _, err2) = try await shipit(["exec", "--hosts", "a"])
        #expect(code2 == 2)
        #expect(err2.contains("no command"))
    }

    @Test func versionAndHelp() async throws {
        let (code, out, _) = try await shipit(["--version"])
        #expect(code == 0)
        #expect(out.contains("shipit \(ShipitVersion.current)"))
        let (hcode, hout, _) = try await shipit(["--help"])
        #expect(hcode == 0)
        #expect(hout.contains("exec"))
    }
}
