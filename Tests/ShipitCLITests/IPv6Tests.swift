import Foundation
import ShipitCore
import TestSupport
import Testing

/// Issue 28, item 12, against real servers: an sshd of this test's own on [::1] (the shared test
/// hosts listen on 127.0.0.x only), reached as `::1` and `[::1]`, directly, behind a bastion and as
/// the bastion; and the Host header of a health request to an IPv6 address through the tunnel.
/// The test stops exactly the processes it started.
@Suite("IPv6 literals reach real servers", .serialized)
struct IPv6Tests {
    let bin = ShipitBinary()
    let hosts = TestHosts.current

    /// An sshd on [::1]:port in the style of scripts/testhosts.sh (the test hosts' users and
    /// authorized keys), with a known_hosts file that knows it and the test hosts.
    struct LocalSSHD {
        /// The daemon's pid, from its PidFile: it is stopped by this pid alone.
        let pid: Int32
        let port: Int
        let knownHosts: String

        /// sshd daemonizes itself (not `-D` under a Foundation `Process`: the test runner then
        /// never saw the next `shipit` it started exit).
        static func start(_ hosts: TestHosts) async throws -> LocalSSHD {
            let dir = Local.tempDir("sshd-v6")
            _ = try await Local.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", dir + "/host_key"])
            let key = try String(contentsOfFile: dir + "/host_key.pub", encoding: .utf8).split(separator: " ").prefix(2)
                .joined(separator: " ")
            for _ in 0..<5 {
                let port = Int.random(in: 20000...60000)
                try """
                ListenAddress [::1]:\(port)
                HostKey \(dir)/host_key
                PidFile \(dir)/sshd.pid
                AuthorizedKeysFile \(hosts.stateDir)/authorized_keys/%u
                PasswordAuthentication no
                KbdInteractiveAuthentication no
                UsePAM no
                StrictModes no
                AllowTcpForwarding yes
                UseDNS no
                LogLevel ERROR
                """.write(toFile: dir + "/sshd_config", atomically: true, encoding: .utf8)
                try? FileManager.default.removeItem(atPath: dir + "/sshd.pid")
                // A port another process holds: sshd exits at once (status 255), try another.
                guard
                    (try? await Local.run(["/usr/sbin/sshd", "-f", dir + "/sshd_config", "-E", dir + "/sshd.log"]))
                        != nil
                else { continue }
                for _ in 0..<100 {
                    if let text = try? String(contentsOfFile: dir + "/sshd.pid", encoding: .utf8),
                        let pid = Int32(text.trimmingCharacters(in: .whitespacesAndNewlines)),
                        try await Local.run([
                            "bash", "-c", "(exec 3<>/dev/tcp/::1/\(port)) 2>/dev/null && echo up || true",
                        ]).contains("up")
                    {
                        let known =
                            try String(contentsOfFile: hosts.knownHosts, encoding: .utf8) + "[::1]:\(port) \(key)\n"
                        try known.write(toFile: dir + "/known_hosts", atomically: true, encoding: .utf8)
                        return LocalSSHD(pid: pid, port: port, knownHosts: dir + "/known_hosts")
                    }
                    try await Task.sleep(for: .milliseconds(50))
                }
                if let text = try? String(contentsOfFile: dir + "/sshd.pid", encoding: .utf8),
                    let pid = Int32(text.trimmingCharacters(in: .whitespacesAndNewlines))
                {
                    _ = Foundation.kill(pid, SIGKILL)
                }
            }
            throw ShipitError("no sshd could listen on [::1] (see \(dir)/sshd.log)")
        }

        func stop() { _ = Foundation.kill(pid, SIGKILL) }
    }

    func auth(_ knownHosts: String) -> [String] {
        ["--user", hosts.user, "--identity", hosts.identity, "--known-hosts", knownHosts, "--ssh-config", "none"]
    }

    @Test func execReachesAnIPv6HostDirectlyAndThroughAndAsABastion() async throws {
        let sshd = try await LocalSSHD.start(hosts)
        defer { sshd.stop() }
        let probe = "echo \"conn=$SSH_CONNECTION\""
        for given in ["::1", "[::1]"] {
            let r = try await bin.run(
                ["exec", "--hosts", given, "--port", String(sshd.port)] + auth(sshd.knownHosts) + ["--", probe])
            #expect(r.status == 0, "\(given): \(r.stderr)")
            #expect(
                r.stdout.contains("::1 | conn=::1 ") && r.stdout.contains(" ::1 \(sshd.port)"), "\(given): \(r.stdout)")
        }
        // Behind a bastion: the bastion opens its channel to ::1.
        let behind = try await bin.run(
            [
                "exec", "--hosts", "::1", "--port", String(sshd.port), "--proxy-jump",
                "\(hosts.user)@\(hosts.hosts[0]):22",
            ]
                + auth(sshd.knownHosts) + ["--", probe])
        #expect(behind.status == 0, "\(behind.stderr)")
        #expect(behind.stdout.contains("conn=::1 ") && behind.stdout.contains(" ::1 \(sshd.port)"), "\(behind.stdout)")
        // As the bastion, in brackets with its port.
        let via = try await bin.run(
            ["exec", "--hosts", hosts.hosts[0], "--proxy-jump", "\(hosts.user)@[::1]:\(sshd.port)"]
                + auth(sshd.knownHosts) + ["--", probe])
        #expect(via.status == 0, "\(via.stderr)")
        #expect(via.stdout.contains(" \(hosts.hosts[0]) 22"), "\(via.stdout)")
        // A port in the hosts list is refused, naming the flag, before any connection.
        let refused = try await bin.run(
            ["exec", "--hosts", "[::1]:\(sshd.port)"] + auth(sshd.knownHosts) + ["--", probe])
        #expect(refused.status == ShipitExit.usage.rawValue && refused.stderr.contains("--hosts"), "\(refused.stderr)")
    }

    /// A health request to `::1` through a host's tunnel: the server sees `Host: [::1]:port`.
    @Test func theHostHeaderOfAnIPv6HealthRequestIsBracketed() async throws {
        let dir = Local.tempDir("http-v6")
        try """
        import http.server, socket, os
        class S(http.server.HTTPServer): address_family = socket.AF_INET6
        class H(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                out = ("host=" + str(self.headers.get("Host"))).encode()
                self.send_response(200); self.send_header("Content-Length", str(len(out))); self.end_headers(); self.wfile.write(out)
            def log_message(self, *a): pass
        s = S(("::1", 0), H)
        open("\(dir)/port.tmp", "w").write(str(s.server_address[1])); os.rename("\(dir)/port.tmp", "\(dir)/port")
        s.serve_forever()
        """.write(toFile: dir + "/srv.py", atomically: true, encoding: .utf8)
        // Started in the background by a shell, so its pid is known and it is stopped by it alone.
        let started = try await Local.run(["bash", "-c", "python3 \(dir)/srv.py </dev/null >/dev/null 2>&1 & echo $!"])
        let pid = try #require(Int32(started.trimmingCharacters(in: .whitespacesAndNewlines)))
        defer { _ = Foundation.kill(pid, SIGKILL) }
        try await DeployFixture.waitForFile(dir + "/port", timeout: 60)
        let port = try #require(Int(String(contentsOfFile: dir + "/port", encoding: .utf8)))

        let settings = ConnectionSettings(
            user: hosts.user, identities: [hosts.identity], useAgent: false, knownHostsPath: hosts.knownHosts)
        let fleet = Fleet(hosts: [hosts.hosts[0]], settings: settings)
        let transport = SSHTransport(fleet: fleet)
        let r = try await transport.httpGet(hosts.hosts[0], address: "::1", port: port, path: "/health", timeout: 10)
        await transport.close()
        #expect(r.status == 200)
        #expect(r.body == "host=[::1]:\(port)", "\(r.body)")
    }
}
