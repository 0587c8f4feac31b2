import Foundation

/// The local webhook receiver (scripts/webhook-receiver.py) on a free loopback port: it verifies
/// each request's signature and appends what it got, as a JSON line, to `out`.
public enum WebhookReceiver {
    public static func start(secret: String, delay: Double = 0, hosts: TestHosts = .current) throws -> (
        process: Process, port: Int, out: String
    ) {
        let port = Local.freePort()
        let out = Local.tempDir("hooks") + "/received.jsonl"
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
        p.arguments = [
            hosts.repoRoot + "/scripts/webhook-receiver.py", "--port", String(port), "--secret", secret, "--out", out,
            "--delay", String(delay),
        ]
        // Never the test runner's own pipes: a receiver left running would hold them open.
        p.standardOutput = FileHandle.nullDevice
        p.standardError = FileHandle.nullDevice
        try p.run()
        return (p, port, out)
    }

    public static func waitListening(_ port: Int) async throws {
        for _ in 0..<50 {
            if (try? await Local.run(["bash", "-c", "exec 3<>/dev/tcp/127.0.0.1/\(port)"])) != nil { return }
            try await Task.sleep(for: .milliseconds(100))
        }
        throw TestFailure("receiver not listening on \(port)")
    }
}
