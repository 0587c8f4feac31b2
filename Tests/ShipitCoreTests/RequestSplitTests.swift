import Foundation
import TestSupport
import Testing

@testable import ShipitCore

/// The request split on a real nginx on loopback: two slot servers on unix sockets (each
/// answering its release's name and logging as the slots do), a public server split by
/// `RequestSplit`, the shares set by `split_share` in a real /bin/sh; the records aggregated by
/// `golden_collect` and read back by `GoldenSignals.parse`.
@Suite("request split: shares by renamed links, sticky clients, golden signals from nginx's records")
struct RequestSplitTests {
    let dir = Local.tempDir("split")
    let port = DeployFixture.peekPort()

    func conf(_ split: RequestSplit) -> String {
        // Each slot's server, and its logged twin the split's links point at.
        let slots = [9101: "v1", 9102: "v2"].flatMap { slot, version in
            [
                ("slot-\(slot).sock", ""),
                ("slot-\(slot).g.sock", split.loggedLines(slot: slot, log: dir + "/golden.log")),
            ].map {
                name, logged in
                """
                    server {
                        listen unix:\(dir)/\(name);
                        \(logged)
                        location = /fail { return 503 "\(version) failed\\n"; }
                        location / { return 200 "\(version)\\n"; }
                    }
                """
            }
        }.joined(separator: "\n")
        return """
            worker_processes 1;
            pid \(dir)/nginx.pid;
            error_log \(dir)/error.log warn;
            events { worker_connections 512; }
            http {
                access_log off;
                client_body_temp_path \(dir)/tmp;
                proxy_temp_path \(dir)/tmp;
                \(split.logFormatConf)
            \(split.httpConf)
            \(slots)
                server {
                    listen 127.0.0.1:\(port);
                    location / {
                        \(split.locationConf)
                        \(split.proxyPass(socketDir: dir))
                    }
                }
            }
            """
    }

    func sh(_ body: String) async throws -> String {
        let script = HostScript(
            .switch, layout: HostLayout(deployTo: dir), timeout: nil,
            variables: [("SOCKS", dir), ("GOLDEN_LOG", dir + "/golden.log")],
            uses: [
                RequestSplit.setup, RequestSplit.share, RequestSplit.back, RequestSplit.on, RequestSplit.quiet,
                GoldenSignals.collect,
            ], ScriptText(body))
        return try await Local.run(["/bin/sh", "-c", script.rendered])
    }

    /// `clients` clients, `each` requests apiece (a cookie jar each): how many answers each
    /// version gave, and how many clients saw both.
    func load(clients: Int, each: Int, path: String = "/") async throws -> (counts: [String: Int], mixed: Int) {
        let py = """
            import http.client, sys
            port, clients, each, path = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
            counts, mixed = {}, 0
            for c in range(clients):
                cookie, seen = None, set()
                for _ in range(each):
                    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
                    conn.request("GET", path, headers={"Cookie": cookie} if cookie else {})
                    r = conn.getresponse(); body = r.read().decode().split()[0]
                    sc = r.getheader("Set-Cookie")
                    if sc and not cookie: cookie = sc.split(";")[0]
                    conn.close()
                    counts[body] = counts.get(body, 0) + 1; seen.add(body)
                mixed += len(seen) > 1
            print(" ".join(f"{k}={v}" for k, v in counts.items()), f"mixed={mixed}")
            """
        let out = try await Local.run(["python3", "-c", py, String(port), String(clients), String(each), path])
        var counts: [String: Int] = [:]
        var mixed = -1
        for f in out.split(whereSeparator: { $0 == " " || $0 == "\n" }) {
            let kv = f.split(separator: "=")
            guard kv.count == 2, let n = Int(kv[1]) else { continue }
            if kv[0] == "mixed" { mixed = n } else { counts[String(kv[0])] = n }
        }
        return (counts, mixed)
    }

    func withNginx(_ split: RequestSplit, _ body: () async throws -> Void) async throws {
        try FileManager.default.createDirectory(atPath: dir + "/tmp", withIntermediateDirectories: true)
        try conf(split).write(toFile: dir + "/nginx.conf", atomically: true, encoding: .utf8)
        _ = try await sh("ln -s slot-9101.sock \"$SOCKS/active.sock\" && split_setup")
        _ = try await Local.run(["nginx", "-e", dir + "/error.log", "-p", dir + "/", "-c", dir + "/nginx.conf"])
        defer { _ = try? Local.run(["sh", "-c", "kill $(cat \(dir)/nginx.pid)"]) }
        try await body()
    }

    @Test func aTenPercentShareIsMetAndEachClientKeepsItsRelease() async throws {
        try await withNginx(RequestSplit(app: "demo-app", sticky: .cookie)) {
            // No share: every bucket is the serving release's.
            let before = try await load(clients: 50, each: 2)
            #expect(before.counts == ["v1": 100], "\(before)")
            _ = try await sh("split_share 10 9102 9101")
            _ = try await sh(": > \"$SOCKS/golden.log\"")
            // The share varies with the number of clients (a client's first answer decides its
            // release): 900 put 4 points at four standard deviations.
            let step = try await load(clients: 900, each: 2)
            let v2 = Double(step.counts["v2"] ?? 0) / 1800
            #expect(abs(v2 - 0.10) <= 0.04, "\(step)")
            #expect(step.mixed == 0, "a client saw both releases: \(step)")
            // The proxy's records say the same, per slot.
            let signals = GoldenSignals.parse([try await sh("golden_collect \"$SOCKS/golden.log\"")])
            #expect(signals[9102]?.requests == step.counts["v2"], "\(signals)")
            #expect(signals[9101]?.requests == step.counts["v1"], "\(signals)")
            #expect(signals[9102]?.errors == 0 && signals[9102]?.percentile(0.95) != nil)
            // A larger share keeps the clients of the smaller one where they were.
            _ = try await sh("split_share 50 9102 9101")
            let half = try await load(clients: 900, each: 2)
            #expect(abs(Double(half.counts["v2"] ?? 0) / 1800 - 0.5) <= 0.08, "\(half)")
            // Paused: the share stays, through the plain servers (no records).
            #expect(try await sh("split_on && echo on") == "on\n")
            _ = try await sh("split_quiet")
            let quiet = try await load(clients: 100, each: 2)
            #expect((quiet.counts["v2"] ?? 0) > 0 && quiet.mixed == 0, "\(quiet)")
            #expect(
                try await sh("wc -c < \"$SOCKS/golden.log\"").trimmingCharacters(in: .whitespacesAndNewlines) == "0")
            // Back: at once, everyone on the serving release, and nothing logged any more.
            let out = try await sh("split_back && cat \"$SOCKS/split/share\"; split_on || echo off")
            #expect(out.trimmingCharacters(in: .whitespacesAndNewlines) == "0\noff")
            _ = try await sh(": > \"$SOCKS/golden.log\"")
            let after = try await load(clients: 50, each: 2)
            #expect(after.counts == ["v1": 100], "\(after)")
            #expect(
                try await sh("wc -c < \"$SOCKS/golden.log\"").trimmingCharacters(in: .whitespacesAndNewlines) == "0")
            // The next deploy's smaller share takes the buckets above it off the canary first.
            _ = try await sh("split_share 5 9102 9101")
            let links = try await sh(
                "for i in 4 5 49 50; do readlink \"$SOCKS/split/b$i.sock\"; done; cat \"$SOCKS/split/linked\"")
            #expect(links == "../canary.sock\n../baseline.sock\n../baseline.sock\n../baseline.sock\n5\n", "\(links)")
        }
    }

    @Test func withoutStickinessRequestsAreSplitOneByOneAndErrorsAreCountedPerSlot() async throws {
        try await withNginx(RequestSplit(app: "demo", sticky: .none)) {
            _ = try await sh("split_share 20 9102 9101")
            _ = try await sh(": > \"$SOCKS/golden.log\"")
            let r = try await load(clients: 20, each: 40, path: "/fail")
            #expect(abs(Double(r.counts["v2"] ?? 0) / 800 - 0.2) <= 0.05, "\(r)")
            #expect(r.mixed > 10, "split per request, clients see both: \(r)")
            let s = GoldenSignals.parse([try await sh("golden_collect \"$SOCKS/golden.log\"")])
            let canary = try #require(s[9102])
            let baseline = try #require(s[9101])
            #expect(canary.errorRatio == 1 && baseline.errorRatio == 1)
            let verdict = ProxyVerdict.judge(
                canary: canary, baseline: baseline,
                limits: {
                    var l = ProxyVerdict.Limits()
                    l.maxErrorRatio = 0.02
                    return l
                }(),
                canaryName: "v2", baselineName: "v1")
            #expect(verdict.outcome == .fail && verdict.reasons.first?.hasPrefix("error ratio 100 %") == true)
        }
    }
}
