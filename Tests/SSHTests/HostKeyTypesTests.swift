import Foundation
import TestSupport
import Testing

@testable import SSH

/// Hosts that offer ed25519, ECDSA and RSA keys (a stock Debian sshd), checked against known_hosts
/// files as OpenSSH writes them: hashed names, the one key type `ssh` negotiated.
@Suite("host key types: known_hosts as ssh writes it")
struct HostKeyTypesTests {
    let hosts = TestHosts.current

    private func connect(_ address: String, knownHosts: String, policy: SSHOptions.HostKeyPolicy = .strict) async throws
        -> SSHSession
    {
        try await SSHSession.connect(
            to: SSHTarget(host: address, user: hosts.user),
            options: hosts.options(knownHosts: knownHosts, policy: policy))
    }

    private func connectError(_ address: String, knownHosts: String, policy: SSHOptions.HostKeyPolicy = .strict) async
        -> SSHError?
    {
        do {
            let s = try await connect(address, knownHosts: knownHosts, policy: policy)
            await s.close()
            return nil
        } catch {
            return error as? SSHError
        }
    }

    private func fingerprint(_ pubFile: String) throws -> String {
        String(try Local.run(["ssh-keygen", "-lf", pubFile]).split(separator: " ")[1])
    }

    private func write(_ text: String) throws -> String {
        let path = Local.tempDir("kh") + "/known_hosts"
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    @Test func theTestHostsOfferThreeKeyTypes() async throws {
        let scan = try await Local.run(["ssh-keyscan", "-t", "ed25519,ecdsa,rsa", hosts.hosts[0]])
        let types = Set(
            scan.split(separator: "\n").filter { !$0.hasPrefix("#") }.compactMap {
                $0.split(separator: " ").dropFirst().first.map(String.init)
            })
        #expect(types == ["ssh-ed25519", "ecdsa-sha2-nistp256", "ssh-rsa"], "\(scan)")
    }

    /// The first connection of OpenSSH's own client writes the file; shipit must accept that host
    /// with it, strictly (libssh2 left alone negotiates ECDSA and calls the host unknown).
    @Test func aKnownHostsWrittenBySshIsAccepted() async throws {
        let address = hosts.hosts[1]
        let path = Local.tempDir("kh") + "/known_hosts"
        try await Local.run([
            "ssh", "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=accept-new", "-o", "HashKnownHosts=yes",
            "-o", "UserKnownHostsFile=\(path)", "-o", "GlobalKnownHostsFile=/dev/null", "-o", "UpdateHostKeys=no",
            "-i", hosts.identity, "-F", "/dev/null", "\(hosts.user)@\(address)", "true",
        ])
        let written = try String(contentsOfFile: path, encoding: .utf8)
        let lines = written.split(separator: "\n")
        #expect(lines.count == 1 && lines[0].hasPrefix("|1|") && lines[0].contains(" ssh-ed25519 "), "\(written)")
        let s = try await connect(address, knownHosts: path)
        #expect(try await s.exec("true").exitCode == 0)
        #expect(
            s.hostKeyFingerprint == (try fingerprint("\(hosts.stateDir)/hosts/\(address)/ssh_host_ed25519_key.pub")))
        await s.close()
    }

    /// Whatever single type is recorded, that is the key the server is asked to prove.
    @Test(arguments: ["ecdsa", "ed25519"])
    func theRecordedTypeIsTheOneNegotiated(type: String) async throws {
        let address = hosts.hosts[0]
        let path = try write("\(address) \(try hosts.hostKeyLine(of: address, type: type))\n")
        let s = try await connect(address, knownHosts: path)
        #expect(
            s.hostKeyFingerprint == (try fingerprint("\(hosts.stateDir)/hosts/\(address)/ssh_host_\(type)_key.pub")))
        await s.close()
    }

    /// An RSA key alone: proved where libssh2 has SHA-2 RSA signatures; where it has only SHA-1
    /// (libssh2 1.10, Debian 12) an OpenSSH 9 server cannot prove it, and the refusal says why and
    /// what to record instead.
    @Test func aRecordedRSAKeyIsProvedOrTheRefusalExplainsWhy() async throws {
        let address = hosts.hosts[0]
        let path = try write("\(address) \(try hosts.hostKeyLine(of: address, type: "rsa"))\n")
        do {
            let s = try await connect(address, knownHosts: path)
            #expect(
                s.hostKeyFingerprint == (try fingerprint("\(hosts.stateDir)/hosts/\(address)/ssh_host_rsa_key.pub")))
            await s.close()
        } catch let e as SSHError {
            #expect(e.kind == .hostKeyMismatch)
            #expect(e.message.contains("SHA-1") && e.message.contains("ssh-keyscan -t ed25519 \(address)"), "\(e)")
        }
    }

    /// A host recorded with a key type it no longer offers is a changed host: refused, even under
    /// accept-new, and nothing is appended beside the recorded key.
    @Test func aHostThatNoLongerOffersTheRecordedTypeIsChangedNotUnknown() async throws {
        let address = "127.0.0.35"
        try await hosts.harness(["start-host", address], environment: ["SHIPIT_HOST_OPTS": "ed25519-only"])
        try await withCleanup({ _ = try? await hosts.harness(["stop-host", address], environment: [:]) }) {
            let recorded = "\(address) \(try hosts.hostKeyLine(of: address, type: "ecdsa"))\n"
            let path = try write(recorded)
            for policy in [SSHOptions.HostKeyPolicy.strict, .acceptNew] {
                let e = try #require(await connectError(address, knownHosts: path, policy: policy))
                #expect(e.kind == .hostKeyMismatch, "\(e)")
                #expect(
                    e.message.contains("HOST KEY CHANGED") && e.message.contains("ecdsa-sha2-nistp256")
                        && e.message.contains("ssh-ed25519"), "\(e)")
            }
            #expect(try String(contentsOfFile: path, encoding: .utf8) == recorded)
            // The same host with its ed25519 key recorded is fine.
            let good = try write("\(address) \(try hosts.hostKeyLine(of: address))\n")
            let s = try await connect(address, knownHosts: good)
            await s.close()
        }
    }

    /// A line libssh2 cannot read (a host CA, a key type it does not know, junk) is skipped, not
    /// fatal for the file; a key marked @revoked is refused whatever else the file says.
    @Test func unreadableLinesAreSkippedAndRevokedKeysRefused() async throws {
        let address = hosts.hosts[2]
        let key = try hosts.hostKeyLine(of: address)
        let noise =
            "@cert-authority *.example.com \(key)\nnot a known_hosts line\nweb-9 sk-ssh-ed25519@openssh.com AAAAGnNrLXNzaC1lZDI1NTE5QG9wZW5zc2guY29t\n"
        let fine = try write(noise + "\(address) \(key)\n")
        let s = try await connect(address, knownHosts: fine)
        await s.close()
        let revoked = try write(noise + "\(address) \(key)\n@revoked * \(key)\n")
        let e = try #require(await connectError(address, knownHosts: revoked))
        #expect(e.kind == .hostKeyMismatch)
        #expect(e.message.contains("REVOKED"), "\(e)")
    }

    @Test func preferenceOrdersRecordedTypesFirst() {
        #expect(HostKeyKind.preference(recorded: []).hasPrefix("ssh-ed25519,ecdsa-sha2-nistp256,"))
        #expect(HostKeyKind.preference(recorded: [.rsa]).hasPrefix("rsa-sha2-512,rsa-sha2-256,ssh-rsa,ssh-ed25519,"))
        #expect(HostKeyKind.preference(recorded: [.rsa, .ecdsa256]).hasPrefix("ecdsa-sha2-nistp256,rsa-sha2-512,"))
        // Every type stays in the list: a host without a recorded type is reached and reported.
        #expect(HostKeyKind.preference(recorded: [.ed25519]).split(separator: ",").count == 8)
    }
}
