import Foundation
import SSH
import TestSupport
import Testing

/// The hosts that really boot (scripts/systemdhosts.sh): PID 1 is systemd, the deploy user's
/// `systemctl --user` works over SSH (shipit's own SSH module, strict host key checking), and what
/// that user enabled comes back after a reboot and after a crash, with nobody logged in.
/// Every suite on the systemd hosts, one test at a time: a reboot in one test would cut another's
/// deploy short.
@Suite("hosts that really boot", .serialized)
enum SystemdSuites {}

extension SystemdSuites {
    @Suite("systemd hosts: PID 1 is systemd, user units survive a reboot")
    struct SystemdHostTests {
        let hosts = SystemdHosts.current

        /// One command on `address` as the deploy user, on a session of its own (a reboot ends every
        /// session).
        private func sh(_ address: String, _ command: String, stdin: String? = nil) async throws -> ExecResult {
            let s = try await hosts.connect(to: address)
            do {
                let r = try await s.exec(command, stdin: stdin.map { Data($0.utf8) }, timeout: 30)
                await s.close()
                return r
            } catch {
                await s.close()
                throw error
            }
        }

        private func text(_ r: ExecResult) -> String { r.stdoutText.trimmingCharacters(in: .whitespacesAndNewlines) }

        /// Seconds until `condition` holds; nil when it did not within `bound`.
        private func secondsUntil(_ bound: Double, _ condition: () async -> Bool) async -> Double? {
            await SupervisedHosts().secondsUntil(bound, condition)
        }

        /// A user unit serving "probe PID" over HTTP on `port` (perl, as a release's app would be),
        /// enabled and started; `Restart=on-failure` as a supervised app has it.
        /// Returns the probe's first answer (perl takes a moment to listen after the unit started).
        @discardableResult
        private func installProbe(_ address: String, unit: String, port: Int) async throws -> String {
            let server = """
                use IO::Socket::INET;
                my $s = IO::Socket::INET->new(LocalAddr => "0.0.0.0", LocalPort => $ARGV[0], Listen => 16, ReuseAddr => 1)
                  or die "listen: $!";
                while (my $c = $s->accept) { my $l = <$c>; print $c "HTTP/1.0 200 OK\\r\\n\\r\\nprobe $$\\n"; close $c }

                """
            let service = """
                [Unit]
                Description=shipit test probe on \(port)
                [Service]
                ExecStart=/usr/bin/perl %h/\(unit).pl \(port)
                Restart=on-failure
                RestartSec=200ms
                [Install]
                WantedBy=default.target

                """
            #expect(try await sh(address, "cat > ~/\(unit).pl", stdin: server).exitCode == 0)
            let write = try await sh(
                address, "mkdir -p ~/.config/systemd/user && cat > ~/.config/systemd/user/\(unit).service",
                stdin: service)
            #expect(write.exitCode == 0, "\(write.stderrText)")
            let enable = try await sh(
                address, "systemctl --user daemon-reload && systemctl --user enable --now \(unit)")
            #expect(enable.exitCode == 0, "\(enable.stderrText)")
            var first = ""
            let up = await secondsUntil(5) {
                first = await probe(address, port: port)
                return first.hasPrefix("probe ")
            }
            #expect(up != nil, "\(unit) did not answer within 5 s of being started")
            return first
        }

        private func removeProbe(_ address: String, unit: String) async {
            _ = try? await sh(
                address,
                "systemctl --user disable --now \(unit); rm -f ~/.config/systemd/user/\(unit).service ~/\(unit).pl; systemctl --user daemon-reload"
            )
        }

        /// The probe's answer from the deployer (its public port on the host's address), "" if none.
        private func probe(_ address: String, port: Int) async -> String {
            let out = try? await Local.run(["curl", "-s", "--max-time", "2", "http://\(address):\(port)/"])
            return (out ?? "").trimmingCharacters(in: .whitespacesAndNewlines)
        }

        private func mainPID(_ address: String, unit: String) async throws -> String {
            text(try await sh(address, "systemctl --user show -p MainPID --value \(unit)"))
        }

        @Test func pidOneIsSystemdOnEveryHost() async throws {
            #expect(hosts.hosts.count >= 3, "\(hosts.hosts)")
            for address in hosts.hosts {
                let r = try await sh(address, "cat /proc/1/comm")
                #expect(text(r) == "systemd", "\(address): PID 1 is '\(text(r))'")
            }
        }

        /// What shipit's supervision will rely on: over a plain exec channel (no terminal, no login
        /// shell), the session has XDG_RUNTIME_DIR from pam_systemd, the user's manager is running, and
        /// the user lingers.
        @Test func theDeployUsersManagerWorksOverSSH() async throws {
            for address in hosts.hosts {
                let r = try await sh(
                    address,
                    "echo \"$XDG_RUNTIME_DIR\"; systemctl --user is-system-running; loginctl show-user \"$(id -un)\" -p Linger"
                )
                let lines = text(r).split(separator: "\n").map(String.init)
                #expect(r.exitCode == 0, "\(address): \(r.stdoutText)\(r.stderrText)")
                #expect(lines.count == 3, "\(address): \(r.stdoutText)\(r.stderrText)")
                guard lines.count == 3 else { continue }
                #expect(lines[0].hasPrefix("/run/user/"), "\(address): XDG_RUNTIME_DIR is '\(lines[0])'")
                #expect(lines[1] == "running", "\(address): systemctl --user is '\(lines[1])'")
                #expect(lines[2] == "Linger=yes", "\(address): \(lines[2])")
            }
        }

        /// A reboot (podman stop and start) with nobody logged in afterwards: the enabled user unit is started
        /// again by the lingering user's manager, a new process, answering from the deployer, within a
        /// bound of sshd accepting again.
        @Test func anEnabledUserUnitComesBackAfterAReboot() async throws {
            let address = hosts.hosts[hosts.hosts.count - 1]
            let unit = "probe-reboot"
            let port = 18080
            try await withCleanup({ await removeProbe(address, unit: unit) }) {
                try await installProbe(address, unit: unit, port: port)
                let invocation = text(try await sh(address, "systemctl --user show -p InvocationID --value \(unit)"))
                #expect(!invocation.isEmpty)
                // Cleared by a reboot (a tmpfs of the user's manager): tells a reboot from a no-op.
                #expect(try await sh(address, "touch \"$XDG_RUNTIME_DIR/before-reboot\"").exitCode == 0)

                try await hosts.reboot(address)
                let back = await secondsUntil(30) { await probe(address, port: port).hasPrefix("probe ") }
                #expect(back != nil, "\(unit) did not answer within 30 s of sshd accepting after the reboot")
                let after = try await sh(
                    address,
                    "test -e \"$XDG_RUNTIME_DIR/before-reboot\"; echo $?; systemctl --user is-enabled \(unit); systemctl --user is-active \(unit); systemctl --user show -p InvocationID --value \(unit)"
                )
                let lines = text(after).split(separator: "\n").map(String.init)
                #expect(lines.prefix(3) == ["1", "enabled", "active"], "\(text(after))")
                #expect(
                    lines.count == 4 && lines[3] != invocation,
                    "the same invocation as before the reboot: \(text(after))")
            }
        }

        /// `kill -9` of the unit's main process: systemd starts it again (Restart=on-failure).
        @Test func aKilledUserUnitIsRestarted() async throws {
            let address = hosts.hosts[0]
            let unit = "probe-crash"
            let port = 18081
            try await withCleanup({ await removeProbe(address, unit: unit) }) {
                try await installProbe(address, unit: unit, port: port)
                let pid = try await mainPID(address, unit: unit)
                #expect(Int(pid) ?? 0 > 0, "MainPID '\(pid)'")
                #expect(try await sh(address, "kill -9 \(pid)").exitCode == 0)
                let back = await secondsUntil(5) {
                    let now = await probe(address, port: port)
                    return now.hasPrefix("probe ") && now != "probe \(pid)"
                }
                #expect(back != nil, "\(unit) did not answer again within 5 s of kill -9")
                let restarts = text(try await sh(address, "systemctl --user show -p NRestarts --value \(unit)"))
                #expect(restarts == "1", "NRestarts=\(restarts)")
            }
        }
    }
}
