import Foundation
import SSH
import TestSupport
import Testing

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

@Suite("connect, host keys and authentication against real sshd")
struct ConnectTests {
    let hosts = TestHosts.current

    private func connectError(_ options: SSHOptions, host: Int = 0) async -> SSHError? {
        do {
            let s = try await SSHSession.connect(to: hosts.target(host), options: options)
            await s.close()
            return nil
        } catch let e as SSHError {
            return e
        } catch {
            return nil
        }
    }

    @Test func unknownHostIsRefusedWithItsFingerprint() async throws {
        let empty = Local.tempDir() + "/known_hosts"
        FileManager.default.createFile(atPath: empty, contents: Data())
        let e = try #require(await connectError(hosts.options(knownHosts: empty)))
        #expect(e.kind == .hostKeyUnknown)
        #expect(e.host == hosts.hosts[0])
        #expect(e.message.contains("SHA256:"))
        let fp = try await Local.run([
            "ssh-keygen", "-lf", "\(hosts.stateDir)/hosts/\(hosts.hosts[0])/ssh_host_ed25519_key.pub",
        ])
        let expected = fp.split(separator: " ")[1]
        #expect(e.message.contains(String(expected)))
    }

    @Test func missingKnownHostsFileIsAnUnknownHost() async throws {
        let e = try #require(await connectError(hosts.options(knownHosts: Local.tempDir() + "/nope")))
        #expect(e.kind == .hostKeyUnknown)
    }

    @Test func changedHostKeyIsRefused() async throws {
        // known_hosts claims host 0 has host 1's key: exactly what a MITM or a rebuilt host looks like.
        let otherKey = try String(
            contentsOfFile: "\(hosts.stateDir)/hosts/\(hosts.hosts[1])/ssh_host_ed25519_key.pub", encoding: .utf8
        )
        .split(separator: " ").prefix(2).joined(separator: " ")
        let path = Local.tempDir() + "/known_hosts"
        try "\(hosts.hosts[0]) \(otherKey)\n".write(toFile: path, atomically: true, encoding: .utf8)
        let e = try #require(await connectError(hosts.options(knownHosts: path)))
        #expect(e.kind == .hostKeyMismatch)
        #expect(e.message.contains("HOST KEY CHANGED"))
        // accept-new never overrides a mismatch.
        let again = try #require(await connectError(hosts.options(knownHosts: path, policy: .acceptNew)))
        #expect(again.kind == .hostKeyMismatch)
    }

    @Test func acceptNewRecordsTheKeyThenStrictAccepts() async throws {
        let path = Local.tempDir() + "/known_hosts"
        let first = try await SSHSession.connect(
            to: hosts.target(2), options: hosts.options(knownHosts: path, policy: .acceptNew))
        await first.close()
        let recorded = try String(contentsOfFile: path, encoding: .utf8)
        #expect(recorded.hasPrefix("\(hosts.hosts[2]) ssh-ed25519 "))
        let second = try await SSHSession.connect(to: hosts.target(2), options: hosts.options(knownHosts: path))
        #expect(try await second.exec("true").exitCode == 0)
        await second.close()
    }

    @Test func wrongUserKeyIsRefusedClearly() async throws {
        let dir = Local.tempDir()
        try await Local.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", dir + "/stranger"])
        let e = try #require(await connectError(hosts.options(auth: [.privateKey(path: dir + "/stranger")])))
        #expect(e.kind == .authentication)
        #expect(e.message.contains("permission denied"))
        #expect(e.message.contains(dir + "/stranger"))
        #expect(e.operation.contains(hosts.user))
    }

    @Test func rsaKeyAuthenticates() async throws {
        let s = try await SSHSession.connect(
            to: hosts.target(), options: hosts.options(auth: [.privateKey(path: hosts.key("id_rsa"))]))
        #expect(try await s.exec("echo rsa").stdoutText == "rsa\n")
        await s.close()
    }

    @Test func passphraseProtectedKey() async throws {
        // Decrypting the key (bcrypt KDF) is CPU-heavy: a generous timeout for a loaded machine.
        let good = try await SSHSession.connect(
            to: hosts.target(),
            options: hosts.options(
                auth: [.privateKey(path: hosts.key("id_ed25519_pass"), passphrase: "correct horse")], connectTimeout: 60
            ))
        await good.close()
        let e = try #require(
            await connectError(
                hosts.options(
                    auth: [.privateKey(path: hosts.key("id_ed25519_pass"), passphrase: "wrong")], connectTimeout: 60)))
        #expect(e.kind == .authentication)
    }

    @Test func agentAuthentication() async throws {
        let dir = Local.tempDir()
        let sock = dir + "/agent.sock"
        // Foreground agent (-D) with no pipes: a daemonised agent would hold our output pipe open.
        let agent = Process()
        agent.executableURL = URL(fileURLWithPath: "/usr/bin/ssh-agent")
        agent.arguments = ["-D", "-a", sock]
        agent.standardOutput = FileHandle.nullDevice
        agent.standardError = FileHandle.nullDevice
        try agent.run()
        defer { agent.stopIfRunning() }
        for _ in 0..<100 where !FileManager.default.fileExists(atPath: sock) {
            try await Task.sleep(for: .milliseconds(20))
        }
        try await Local.run(["ssh-add", hosts.identity], environment: ["SSH_AUTH_SOCK": sock])
        let s = try await SSHSession.connect(
            to: hosts.target(), options: hosts.options(auth: [.agent(socketPath: sock)]))
        #expect(try await s.exec("echo agent").stdoutText == "agent\n")
        await s.close()
    }

    @Test func closedPortFailsFast() async throws {
        // A refused port must fail at once, not after the connect timeout: kind .connect ("refused"),
        // not .timeout.
        let start = ContinuousClock.now
        do {
            _ = try await SSHSession.connect(
                to: SSHTarget(host: "127.0.0.1", port: 1, user: "x"), options: hosts.options(connectTimeout: 300))
            Issue.record("connected to a closed port")
        } catch let e as SSHError {
            #expect(e.kind == .connect)
            #expect(e.message.contains("refused"))
        }
        // Well inside the 300 s timeout (loose: the whole suite runs in parallel on 2 cores).
        #expect(ContinuousClock.now - start < .seconds(90))
    }

    @Test func silentServerTimesOut() async throws {
        // A listener that accepts TCP (kernel backlog) and never says a word.
        let (fd, port) = try #require(Local.boundLoopbackSocket())
        defer { close(fd) }
        listen(fd, 16)

        let start = ContinuousClock.now
        do {
            _ = try await SSHSession.connect(
                to: SSHTarget(host: "127.0.0.1", port: port, user: "x"), options: hosts.options(connectTimeout: 1))
            Issue.record("handshake with a silent server succeeded")
        } catch let e as SSHError {
            #expect(e.kind == .timeout)
            #expect(e.operation.contains("handshake"))
        }
        let took = ContinuousClock.now - start
        // At least the timeout, and no hang: the bound is loose because the whole suite runs in
        // parallel on two cores, with hosts rebooting, and a loaded machine once took 35 s (speed is
        // measured by bench/, not here; without the timeout this would never return).
        #expect(took >= .milliseconds(900))
        #expect(took < .seconds(120))
    }

    @Test func hostKeyFingerprintIsExposed() async throws {
        let s = try await hosts.connect()
        #expect(s.hostKeyFingerprint.hasPrefix("SHA256:"))
        await s.close()
    }
}
