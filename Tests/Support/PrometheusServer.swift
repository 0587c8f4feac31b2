import Foundation

/// A real Prometheus (Debian's `prometheus`) on loopback for rollout gate tests: a generated
/// config scraping `targets` (host:port, `/metrics`) every second, storage in a temporary
/// directory. `stop()` ends it and removes its files.
public final class PrometheusServer: @unchecked Sendable {
    public let port: Int
    public let url: String
    let dir: String
    let process: Process

    public init(targets: [String], port: Int = Int.random(in: 29100...29900)) throws {
        self.port = port
        url = "http://127.0.0.1:\(port)"
        dir = Local.tempDir("prometheus")
        let config = """
            global:
              scrape_interval: 1s
              evaluation_interval: 1s
            scrape_configs:
              - job_name: app
                scrape_timeout: 900ms
                static_configs:
                  - targets: [\(targets.map { "'\($0)'" }.joined(separator: ", "))]
            """
        try config.write(toFile: dir + "/prometheus.yml", atomically: true, encoding: .utf8)
        process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/prometheus")
        process.arguments = [
            "--config.file=\(dir)/prometheus.yml", "--storage.tsdb.path=\(dir)/data",
            "--web.listen-address=127.0.0.1:\(port)",
            "--log.level=warn", "--storage.tsdb.retention.time=1h",
        ]
        process.standardOutput = FileHandle(forWritingAtPath: "/dev/null")
        process.standardError = try FileHandle(
            forWritingTo: URL(fileURLWithPath: dir + "/prometheus.log").creatingFile())
        try process.run()
    }

    /// Waits until Prometheus answers `/-/ready`.
    public func waitReady(timeout: Double = 30) async throws {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if let out = try? await Local.run(["curl", "-fsS", "--max-time", "1", url + "/-/ready"]),
                out.contains("Ready")
            {
                return
            }
            guard process.isRunning else { break }
            try await Task.sleep(for: .milliseconds(200))
        }
        let log = (try? String(contentsOfFile: dir + "/prometheus.log", encoding: .utf8)) ?? ""
        throw TestFailure("prometheus did not become ready on \(url): \(log.suffix(1000))")
    }

    /// The value of an instant query (nil: no data).
    public func query(_ q: String) async throws -> Double? {
        let out = try await Local.run([
            "curl", "-fsS", "--max-time", "2", "--data-urlencode", "query=\(q)", url + "/api/v1/query",
        ])
        guard let doc = try JSONSerialization.jsonObject(with: Data(out.utf8)) as? [String: Any],
            let data = doc["data"] as? [String: Any],
            let result = data["result"] as? [[String: Any]], let value = result.first?["value"] as? [Any],
            value.count == 2,
            let text = value[1] as? String
        else { return nil }
        return Double(text)
    }

    public func stop() {
        if process.isRunning {
            process.stopIfRunning()
            process.waitUntilExit()
        }
        try? FileManager.default.removeItem(atPath: dir)
    }
}

extension URL {
    func creatingFile() throws -> URL {
        FileManager.default.createFile(atPath: path, contents: nil)
        return self
    }
}

/// A test-harness failure with its message.
public struct TestFailure: Error, CustomStringConvertible {
    public let description: String
    public init(_ message: String) { description = message }
}
