import Foundation
import SSH
import ShipitCore
import Testing
import TestSupport

/// Hosts as real fleets have them: hardened sshd without SFTP (this file), jump hosts, ssh_config
/// aliases, sshd's default MaxStartups under a burst (their own suites).
@Suite("real fleets: hosts without SFTP")
struct NoSFTPTests {
    let hosts = TestHosts.current
    static let bare = "127.0.0.60"

    func withBareHost(_ body: () async throws -> Void) async throws {
        try await hosts.harness(["start-host", Self.bare], environment: ["SHIPIT_HOST_OPTS": "nosftp"])
        try await withCleanup({ _ = try? await hosts.harness(["stop-host", Self.bare], environment: [:]) }, body)
    }

    @Test func aHostWithoutTheSFTPSubsystemTakesTheArtifactOnTheExtractCommandsStdin() async throws {
        try await withBareHost {
            // The host really has no SFTP: a plain SFTP upload fails as it does for users.
            let s = try await hosts.connect(to: Self.bare)
            let file = Local.tempDir() + "/f"
            try Data("x".utf8).write(to: URL(fileURLWithPath: file))
            await #expect(throws: SSHError.self) { try await s.upload(localPath: file, remotePath: "/tmp/shipit-sftp-probe", method: .sftp) }
            #expect(await s.sftpAvailable(timeout: 5) == false)
            await s.close()
            #expect(try await hosts.connect().sftpAvailable(timeout: 5))

            let f = try DeployFixture(targets: [Self.bare, hosts.hosts[0]])
            try await withCleanup({ await f.cleanUp() }) {
                let r = try await f.shipit(["deploy", "--from", f.release("v1")])
                #expect(r.status == 0, "\(r.stdout)\(r.stderr)")
                #expect(!r.stdout.contains("SFTP"))
                for h in f.targets { #expect(try await f.served(h).contains("v1")) }
                // Told to use SFTP, shipit finds the host has none and streams there instead.
                let config = try String(contentsOfFile: f.configFile, encoding: .utf8)
                try config.replacingOccurrences(of: "  connect_timeout: 3", with: "  connect_timeout: 3\n  upload: sftp")
                    .write(toFile: f.configFile, atomically: true, encoding: .utf8)
                let v2 = try await f.shipit(["deploy", "--from", f.release("v2")])
                #expect(v2.status == 0, "\(v2.stdout)\(v2.stderr)")
                #expect(v2.stdout.contains("\(Self.bare) upload: this host's sshd offers no SFTP: the files are streamed on the command's stdin instead"), "\(v2.stdout)")
                #expect(!v2.stdout.contains("\(hosts.hosts[0]) upload: this host's sshd offers no SFTP"))
                for h in f.targets { #expect(try await f.served(h).contains("v2")) }
                // auto with an artifact over the stream limit: SFTP where the host has it, the
                // stream where it has not.
                try config.write(toFile: f.configFile, atomically: true, encoding: .utf8)
                let big = try await f.bigRelease("v1", bytes: Int(ConnectionSettings.UploadMode.autoStreamLimit) + 500_000)
                let v3 = try await f.shipit(["deploy", "--from", big])
                #expect(v3.status == 0, "\(v3.stdout)\(v3.stderr)")
                for h in f.targets { #expect(try await f.served(h).contains("v1")) }
                // The plan says how files travel.
                let plan = try await f.shipit(["deploy", "--dry-run", "--from", f.release("v1")])
                #expect(plan.stdout.contains("streamed on its stdin (one channel, no SFTP)"), "\(plan.stdout)")
            }
        }
    }
}
