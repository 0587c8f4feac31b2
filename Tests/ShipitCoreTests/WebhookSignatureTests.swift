import Foundation
import TestSupport
import Testing

@testable import ShipitCore

/// shipit's webhook client against the local receiver (scripts/webhook-receiver.py), which checks
/// what docs/ci.md tells receivers to check: the HMAC over the timestamp and the body, and the
/// timestamp's age. A request captured and sent again later is refused.
@Suite("webhook signatures: timestamp and body, verified by a real receiver")
struct WebhookSignatureTests {
    static var repoRoot: String {
        var url = URL(fileURLWithPath: #filePath)
        for _ in 0..<3 { url.deleteLastPathComponent() }
        return url.path
    }

    /// The receiver on a free loopback port (the kernel's pick, found by trying: the receiver
    /// takes a port on its command line).
    func receiver(secret: String, maxAge: Double) async throws -> (Process, Int, String) {
        let out = Local.tempDir("hooks") + "/received.jsonl"
        for _ in 0..<20 {
            let port = Int.random(in: 32000...32999)
            let p = Process()
            p.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
            p.arguments = [
                Self.repoRoot + "/scripts/webhook-receiver.py", "--port", String(port), "--secret", secret, "--out",
                out, "--max-age", String(maxAge),
            ]
            p.standardOutput = FileHandle.nullDevice
            p.standardError = FileHandle.nullDevice
            try p.run()
            for _ in 0..<50 {
                if !p.isRunning { break }  // the port was taken: another
                if (try? await Local.run(["bash", "-c", "exec 3<>/dev/tcp/127.0.0.1/\(port)"])) != nil {
                    return (p, port, out)
                }
                try await Task.sleep(for: .milliseconds(100))
            }
            p.stopIfRunning()
        }
        throw TestFailure("no receiver could listen")
    }

    func records(_ path: String) throws -> [[String: Any]] {
        try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n").map {
            try JSONSerialization.jsonObject(with: Data($0.utf8)) as! [String: Any]
        }
    }

    static let notification = Notification(
        event: "end", attempt: "20261206T100000Z-abcdef", operation: "deploy", app: "demo", stage: nil,
        outcome: "succeeded", release: "r1", previousRelease: nil, hosts: [], changedFiles: [],
        seconds: 1, time: Date(), text: "deploy of demo r1 succeeded")

    @Test func aSignedNotificationIsAcceptedOnceAndItsReplayIsRefused() async throws {
        let secret = "s3cret-hook-key"
        // Under the whole suite on two cores a delivery (or the receiver's reading of it) can come
        // many seconds late: this receiver accepts a minute; a second one, strict, sees the replay.
        let (p, port, out) = try await receiver(secret: secret, maxAge: 60)
        defer { p.stopIfRunning() }
        let (strict, strictPort, strictOut) = try await receiver(secret: secret, maxAge: 1)
        defer { strict.stopIfRunning() }
        let strictURL = URL(string: "http://127.0.0.1:\(strictPort)/hooks")!
        let url = URL(string: "http://127.0.0.1:\(port)/hooks")!
        let notifier = Notifier(
            settings: NotifySettings(targets: [.init(url: url, secretEnv: "HOOK_KEY")]),
            environment: ["HOOK_KEY": secret])

        let sent = Int(Date().timeIntervalSince1970)
        let result = await notifier.send(.end, Self.notification)
        #expect(result[url.absoluteString] == .some(nil), "\(result)")
        let first = try #require(try records(out).first)
        #expect(first["valid"] as? Bool == true, "\(first)")
        let stamp = try #require(Int(first["timestamp"] as? String ?? ""))
        // The time of the send (signed at each try), not earlier than the call.
        #expect(stamp >= sent && stamp <= Int(Date().timeIntervalSince1970))
        let raw = Data((first["raw"] as? String ?? "").utf8)
        let signature = try #require(first["signature"] as? String)
        #expect(signature == Notifier.signature(raw, timestamp: stamp, secret: secret))

        // The same request, byte for byte, once it is older than a receiver accepts: refused.
        try await Task.sleep(for: .seconds(2))
        let replayHeaders = [
            ("Content-Type", "application/json"), ("X-Shipit-Event", "end"),
            (Notifier.timestampHeader, String(stamp)), (Notifier.signatureHeader, signature),
        ]
        let replay = try await DeployerHTTP.request("POST", strictURL, headers: replayHeaders, body: raw, timeout: 30)
        #expect(replay.status == 401)
        #expect(try records(strictOut).map { $0["why"] as? String } == ["too old (replay?)"])
        // A fresh timestamp on the captured signature: the signature no longer matches.
        let now = String(Int(Date().timeIntervalSince1970))
        let forged = try await DeployerHTTP.request(
            "POST", url, headers: [(Notifier.timestampHeader, now), (Notifier.signatureHeader, signature)],
            body: raw, timeout: 30)
        #expect(forged.status == 401)
        let all = try records(out)
        #expect(all.count == 2)
        #expect(all.dropFirst().map { $0["why"] as? String } == ["bad signature"])
    }

    @Test func theSignatureCoversTheTimestamp() {
        let body = Data("{\"a\":1}".utf8)
        let a = Notifier.signature(body, timestamp: 1_700_000_000, secret: "k")
        #expect(a != Notifier.signature(body, timestamp: 1_700_000_001, secret: "k"))
        #expect(a != Notifier.signature(Data("{\"a\":2}".utf8), timestamp: 1_700_000_000, secret: "k"))
        // HMAC-SHA256("k", "1700000000.{\"a\":1}"), as any receiver computes it.
        let expected = try? Local.run([
            "sh", "-c", "printf '%s' '1700000000.{\"a\":1}' | openssl dgst -sha256 -hmac k -r",
        ])
        #expect(a == "sha256=" + String((expected ?? "").prefix(64)))
    }

    @Test func plainHTTPTargetsAreWarnedAboutNotRefused() throws {
        let settings = NotifySettings(targets: [
            .init(url: URL(string: "http://hooks.internal/x")!),
            .init(url: URL(string: "https://hooks.example.com/y")!),
        ])
        let warnings = Notifier.plainHTTPWarnings(settings)
        #expect(
            warnings == [
                "notify: http://hooks.internal/x is plain http://: the notification and its signature are sent unencrypted (use https://)"
            ])
    }
}
