import Foundation
import SSH
import TestSupport
import Testing

@Suite("upload, read and tunnels against real sshd")
struct TransferTests {
    let hosts = TestHosts.current

    private func bigFile(megabytes: Int) throws -> String {
        let path = Local.tempDir() + "/big.bin"
        try Local.run(["sh", "-c", "head -c \(megabytes * 1024 * 1024) /dev/urandom > '\(path)'"])
        return path
    }

    @Test(arguments: UploadMethod.allCases)
    func upload50MBKeepsItsSha256(method: UploadMethod) async throws {
        let local = try bigFile(megabytes: 50)
        let s = try await hosts.connect(method == .scp ? 0 : 1)
        try await withCleanup({ await s.close() }) {
            // /tmp, not the host's 64 MB /srv: two tests may upload at once.
            let remote = "/tmp/shipit-upload-\(UUID().uuidString)"
            let sent = try await s.upload(
                localPath: local, remotePath: remote, mode: 0o640, method: method, timeout: 120)
            #expect(sent == 50 * 1024 * 1024)
            let r = try await s.exec("sha256sum \(remote); stat -c %a \(remote); rm -f \(remote)")
            let lines = r.stdoutText.split(separator: "\n")
            #expect(String(lines[0].prefix(64)) == (try Local.sha256(local)))
            #expect(lines[1] == "640")
        }
    }

    @Test func uploadToMissingDirectoryFailsWithTheHostAndPath() async throws {
        let local = try bigFile(megabytes: 1)
        let s = try await hosts.connect()
        try await withCleanup({ await s.close() }) {
            do {
                try await s.upload(localPath: local, remotePath: "/nonexistent-dir/x", timeout: 10)
                Issue.record("upload to a missing directory succeeded")
            } catch let e as SSHError {
                #expect(e.host == hosts.hosts[0])
                #expect(e.operation.contains("/nonexistent-dir/x"))
            }
            // The session is still usable afterwards.
            let alive = try await s.exec("echo alive")
            #expect(alive.stdoutText == "alive\n")
        }
    }

    @Test func readSmallFile() async throws {
        let s = try await hosts.connect()
        try await withCleanup({ await s.close() }) {
            let path = "/srv/read-test-\(UUID().uuidString)"
            _ = try await s.exec("printf 'line1\\nline2\\n' > \(path)")
            let data = try await s.readFile(path)
            #expect(String(decoding: data, as: UTF8.self) == "line1\nline2\n")
            await #expect(throws: SSHError.self) { try await s.readFile(path + ".missing") }
            await #expect(throws: SSHError.self) { try await s.readFile(path, maxBytes: 3) }
            _ = try await s.exec("rm -f \(path)")
        }
    }

    @Test func httpGetThroughTunnelToTheHostsOwnAddress() async throws {
        let s = try await hosts.connect(1)
        try await withCleanup({ await s.close() }) {
            let host = hosts.hosts[1]
            let port = 18000 + Int.random(in: 0..<1000)
            let dir = "/srv/www-\(UUID().uuidString.prefix(8))"
            let start = try await s.exec(
                """
                mkdir -p \(dir)/health && echo alive > \(dir)/health/live && cd \(dir) && \
                (setsid python3 -m http.server \(port) --bind \(host) >/dev/null 2>&1 & echo $!)
                """)
            let pid = start.stdoutText.trimmingCharacters(in: .whitespacesAndNewlines)
            try await withCleanup({ _ = try? await s.exec("kill \(pid); rm -rf \(dir)") }) {

                var response = Data()
                for _ in 0..<50 {
                    do {
                        response = try await s.tunnelRequest(
                            host: host, port: port,
                            request: Data("GET /health/live HTTP/1.0\r\nHost: \(host)\r\n\r\n".utf8), timeout: 3)
                        if !response.isEmpty { break }
                    } catch {}
                    try await Task.sleep(for: .milliseconds(100))
                }
                let text = String(decoding: response, as: UTF8.self)
                #expect(text.hasPrefix("HTTP/1.0 200"))
                #expect(text.hasSuffix("alive\n"))
            }
        }
    }

    @Test func tunnelToAClosedPortFails() async throws {
        let s = try await hosts.connect()
        try await withCleanup({ await s.close() }) {
            await #expect(throws: SSHError.self) {
                _ = try await s.tunnelRequest(host: hosts.hosts[0], port: 1, request: Data("x".utf8), timeout: 3)
            }
            let alive = try await s.exec("echo alive")
            #expect(alive.stdoutText == "alive\n")
        }
    }
}
