import Foundation
import ShipitCore
import TestSupport
import Testing

/// `shipit exec -t --host H [--release current] -- CMD`: a pseudo-terminal on the host, driven from
/// a real local terminal (util-linux `script` gives shipit one), input typed into it, the exit
/// status passed through.
@Suite("shipit exec -t: a terminal on one host, in the serving release")
struct ExecTerminalTests {
    let hosts = TestHosts.current

    /// Runs `shipit args` on a local pty with `input` typed into it; returns (status, output).
    private func onTerminal(_ args: [String], input: String) async throws -> (Int32, String) {
        let line = ([ShipitBinary(hosts: hosts).path] + args).map(ShellQuote.quote).joined(separator: " ")
        let script = "printf %s \(ShellQuote.quote(input)) | script -qec \(ShellQuote.quote(line)) /dev/null"
        let (status, out) = try await LocalProcess.runStatusDetached(["sh", "-c", script])
        return (status, out)
    }

    @Test func anInteractiveCommandInTheServingRelease() async throws {
        let f = try DeployFixture(targets: [hosts.hosts[0]])
        try await withCleanup({ await f.cleanUp() }) {
            #expect(try await f.shipit(["deploy", "--from", f.release("v1")]).status == 0)
            let release = try await f.currentRelease(hosts.hosts[0])
            let (status, out) = try await onTerminal(
                [
                    "exec", "-t", "--host", hosts.hosts[0], "--config", f.configFile, "--release", "current", "--",
                    "sh", "-c",
                    "tty; pwd -P; echo \"rel=$SHIPIT_RELEASE port=$PORT\"; read answer; echo \"got:$answer\"; exit 3",
                ],
                input: "hello\n")
            #expect(status == 3, "\(out)")
            #expect(out.contains("/dev/pts/"), "a remote terminal: \(out)")
            #expect(out.contains("\(f.deployTo)/releases/\(release)"), "\(out)")
            #expect(out.contains("rel=\(release) port=\(f.port)"), "\(out)")
            #expect(out.contains("got:hello"), "\(out)")
            // Without -t: no terminal, on every host the command is given to, each with its own name.
            let plain = try await f.shipit([
                "exec", "--host", hosts.hosts[0], "--release", "current", "--", "tty; echo host=$SHIPIT_HOST",
            ])
            #expect(
                plain.stdout.contains("not a tty") && plain.stdout.contains("host=\(hosts.hosts[0])"),
                "\(plain.stdout)\(plain.stderr)")
        }
    }

    @Test func refusals() async throws {
        let bin = ShipitBinary(hosts: hosts)
        let many = try await bin.run([
            "exec", "-t", "--hosts", hosts.hosts.joined(separator: ","), "--user", hosts.user, "--identity",
            hosts.identity,
            "--known-hosts", hosts.knownHosts, "--", "true",
        ])
        #expect(many.status == 2 && many.stderr.contains("-t: a terminal is for one host"), "\(many.stderr)")
        let other = try await bin.run([
            "exec", "--host", "h1", "--release", "previous", "--config", "/nonexistent/shipit.yml", "--", "true",
        ])
        #expect(other.status == 2, "\(other.stderr)")
    }
}
