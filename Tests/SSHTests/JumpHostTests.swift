import Foundation
import SSH
import TestSupport
import Testing

/// ProxyJump through libssh2 alone, against scripts/jumphosts.sh: targets in a network namespace the
/// test process is not in, and a bastion that is in both.
@Suite("jump hosts: direct-tcpip bridged to a second libssh2 session")
struct JumpHostTests {
    let hosts = TestHosts.current
    static let bastion = "127.0.0.50"
    static let targets = ["127.0.0.21", "127.0.0.22", "127.0.0.23"]

    func target(_ address: String) -> SSHTarget { SSHTarget(host: address, user: hosts.user) }

    @Test func theTargetsCannotBeReachedDirectlyButThroughTheBastion() async throws {
        await #expect(throws: SSHError.self) {
            try await SSHSession.connect(to: target(Self.targets[0]), options: hosts.options(connectTimeout: 2))
        }
        let jump = try await SSHJumpHost.connect(to: target(Self.bastion), options: hosts.options())
        try await withCleanup({ await jump.close() }) {
            let s = try await jump.connect(to: target(Self.targets[0]), options: hosts.options())
            let r = try await s.exec("echo $SSH_CONNECTION")
            // The target sees the bastion's connection, to its own address in the hidden namespace.
            #expect(r.stdoutText.contains(" \(Self.targets[0]) 22"), "\(r.stdoutText)")
            #expect(s.hostKeyFingerprint != jump.hostKeyFingerprint)
            // Bulk both ways through the bridge: 3 MiB in on stdin, 3 MiB out.
            let file = Local.tempDir() + "/in"
            try Data((0..<(3 << 20)).map { _ in UInt8.random(in: 0...255) }).write(to: URL(fileURLWithPath: file))
            let sum = try await s.exec("sha256sum", stdinPath: file)
            #expect(sum.stdoutText.prefix(64) == (try Local.sha256(file)).prefix(64))
            let out = try await s.exec("head -c 3145728 /dev/zero")
            #expect(out.stdout.count == 3 << 20)
            await s.close()
        }
    }

    @Test func oneBastionSessionServesManyTargetSessionsAtOnce() async throws {
        let jump = try await SSHJumpHost.connect(to: target(Self.bastion), options: hosts.options(), maxOpening: 4)
        try await withCleanup({ await jump.close() }) {
            // Opened all at once, the three targets interleaved: each session must reach its own
            // target (a channel handed to the wrong caller shows as that host's key, refused).
            let results = try await withThrowingTaskGroup(of: (String, String).self) { group in
                for i in 0..<30 {
                    let address = Self.targets[i % 3]
                    group.addTask {
                        let s = try await jump.connect(to: target(address), options: hosts.options(connectTimeout: 20))
                        defer { Task { await s.close() } }
                        return (address, try await s.exec("echo $SSH_CONNECTION | cut -d' ' -f3; sleep 0.2").stdoutText)
                    }
                }
                var all: [(String, String)] = []
                for try await r in group { all.append((r.0, r.1.trimmingCharacters(in: .whitespacesAndNewlines))) }
                return all
            }
            #expect(results.count == 30)
            for (address, answer) in results { #expect(answer == address) }
        }
    }

    @Test func aChangedBastionKeyOrTargetKeyIsRefused() async throws {
        let other = try hosts.hostKeyLine(of: hosts.hosts[0])
        func knownHosts(replacing name: String) throws -> String { try hosts.knownHosts(replacing: name, with: other) }
        let badBastion = try knownHosts(replacing: Self.bastion)
        do {
            _ = try await SSHJumpHost.connect(to: target(Self.bastion), options: hosts.options(knownHosts: badBastion))
            Issue.record("a changed bastion key was accepted")
        } catch let e as SSHError {
            #expect(e.kind == .hostKeyMismatch)
            #expect(e.host == Self.bastion)
        }
        let badTarget = try knownHosts(replacing: Self.targets[1])
        let jump = try await SSHJumpHost.connect(
            to: target(Self.bastion), options: hosts.options(knownHosts: badTarget))
        try await withCleanup({ await jump.close() }) {
            do {
                _ = try await jump.connect(to: target(Self.targets[1]), options: hosts.options(knownHosts: badTarget))
                Issue.record("a changed target key was accepted")
            } catch let e as SSHError {
                #expect(e.kind == .hostKeyMismatch)
                #expect(e.host == Self.targets[1])
            }
            // A target nothing listens on: a clear error from the bastion, not a hang.
            await #expect(throws: SSHError.self) {
                try await jump.connect(to: target("127.0.0.29"), options: hosts.options(connectTimeout: 3))
            }
        }
    }
}
