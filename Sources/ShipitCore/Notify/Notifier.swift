import Crypto
import FoundationEssentials
import ShipitSupport

/// POSTs a `Notification` to every `notify:` target that wants the event, in parallel: signed
/// when the target names a secret, retried up to 3 times with backoff, the whole of it bounded by
/// the target's timeout. Never throws: each target's failure is returned for the ledger.
///
/// The signature covers the send time with the body (`X-Shipit-Timestamp: <unix seconds>`,
/// `X-Shipit-Signature-256: sha256=<hex HMAC-SHA256 of "<timestamp>.<body>">`): a body signed alone
/// could be captured and sent again at any later time, and its receiver could not tell; with the
/// time under the signature, a receiver refuses one that is old.
public struct Notifier: Sendable {
    public let settings: NotifySettings
    let environment: [String: String]

    public init(settings: NotifySettings, environment: [String: String] = ProcessInfo.processInfo.environment) {
        self.settings = settings
        self.environment = environment
    }

    public static let signatureHeader = "X-Shipit-Signature-256"
    public static let timestampHeader = "X-Shipit-Timestamp"

    /// `sha256=<hex>` of HMAC-SHA256 over `timestamp + "." + body`.
    public static func signature(_ body: Data, timestamp: Int, secret: String) -> String {
        var signed = Data("\(timestamp).".utf8)
        signed.append(body)
        let mac = HMAC<SHA256>.authenticationCode(for: signed, using: SymmetricKey(data: Data(secret.utf8)))
        return "sha256=" + mac.map { String(cFormat: "%02x", $0) }.joined()
    }

    /// Plain http:// targets: the body (release, hosts, errors) and its signature travel in clear.
    /// Said on every run, not refused: a receiver on a private network may be meant that way.
    public static func plainHTTPWarnings(_ settings: NotifySettings) -> [String] {
        settings.targets.filter { $0.url.scheme == "http" }.map {
            "notify: \($0.url.absoluteString) is plain http://: the notification and its signature are sent unencrypted (use https://)"
        }
    }

    /// URL → nil when delivered, else why not.
    public func send(_ event: NotifySettings.Event, _ n: Notification) async -> [String: String?] {
        let targets = settings.targets.filter { $0.events.contains(event) }
        guard !targets.isEmpty else { return [:] }
        let body = n.body()
        return await withTaskGroup(of: (String, String?).self) { group in
            for t in targets {
                group.addTask { (t.url.absoluteString, await self.deliver(t, event: event, body: body)) }
            }
            var out: [String: String?] = [:]
            for await (url, error) in group { out[url] = error }
            return out
        }
    }

    func deliver(_ t: NotifySettings.Target, event: NotifySettings.Event, body: Data) async -> String? {
        let base = [("Content-Type", "application/json"), ("X-Shipit-Event", event.rawValue)]
        var secret: String?
        if let name = t.secretEnv {
            guard let s = environment[name], !s.isEmpty else {
                return "not sent: $\(name) (the signing secret) is not set"
            }
            secret = s
        }
        let deadline = Date().addingTimeInterval(t.timeout)
        var last = "no attempt"
        for attempt in 0..<4 {
            let left = deadline.timeIntervalSinceNow
            guard left > 0.05 else { break }
            // Signed at each try: a retry carries the time it was sent.
            var headers = base
            if let secret {
                let now = Int(Date().timeIntervalSince1970)
                headers += [
                    (Self.timestampHeader, String(now)),
                    (Self.signatureHeader, Self.signature(body, timestamp: now, secret: secret)),
                ]
            }
            do {
                let status = try await DeployerHTTP.request("POST", t.url, headers: headers, body: body, timeout: left)
                    .status
                if (200..<300).contains(status) { return nil }
                last = "HTTP \(status)"
                // A receiver that refuses the request will refuse it again.
                if (400..<500).contains(status) && status != 408 && status != 429 { break }
            } catch {
                last = DeployerHTTP.describe(error)
            }
            let backoff = 0.25 * Double(1 << attempt)
            guard deadline.timeIntervalSinceNow > backoff else { break }
            try? await Task.sleep(for: .milliseconds(Int(backoff * 1000)))
        }
        return "POST \(t.url.absoluteString) failed: \(last) (within \(t.timeout) s)"
    }
}
