import Foundation
import ShipitCore

/// `scripts/load.py` in the background: bounded HTTP load on the hosts' public ports (loopback
/// only), stopped by `finish()`, which returns what it counted.
public final class LoadGenerator: @unchecked Sendable {
    public struct Result: Decodable, Sendable {
        public let requests: Int
        public let failed: Int
        public let bad: Int
        public let retried: Int
        public let versions: [String: Int]
        public let errors: [String]
        /// Failed answers whose body names a version: that release's own 5xx.
        public let failedVersions: [String: Int]
        /// With `clients`: clients answered by more than one version, and ones that went back.
        public let mixed: Int
        public let back: Int

        enum CodingKeys: String, CodingKey {
            case requests, failed, bad, retried, versions, errors, mixed, back
            case failedVersions = "failed_versions"
        }
    }

    let process = Process()
    let output = Pipe()
    let stopFile: String

    /// Starts `threads` clients per target, for at most `seconds`.
    public init(
        targets: [String], port: Int, threads: Int = 3, seconds: Double = 120, bad: String? = nil,
        keepAlive: Bool = false, name: String? = nil, tlsCA: String? = nil, clients: Int = 0, maxRequests: Int? = nil,
        hosts: TestHosts = .current
    ) throws {
        stopFile = Local.tempDir("load") + "/stop"
        var args = [
            hosts.repoRoot + "/scripts/load.py", "--targets", targets.map { "\($0):\(port)" }.joined(separator: ","),
            "--threads", String(threads), "--seconds", String(seconds), "--stop-file", stopFile,
        ]
        if let bad { args += ["--bad", bad] }
        if keepAlive { args.append("--keepalive") }
        // Clients with cookie jars of their own, each thread taking turns as them.
        if clients > 0 { args += ["--clients", String(clients)] }
        if let maxRequests { args += ["--max-requests", String(maxRequests)] }
        // A front door's app: its name, and HTTPS trusting the test CA.
        if let name { args += ["--name", name] }
        if let tlsCA { args += ["--tls", "--ca", tlsCA] }
        process.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
        process.arguments = args
        process.standardOutput = output
        process.standardError = output
        process.standardInput = FileHandle.nullDevice
        try process.run()
    }

    /// Stops the clients (or, with `stop` false, waits until they spent their requests or time)
    /// and returns their counts.
    public func finish(stop: Bool = true) async throws -> Result {
        if stop { FileManager.default.createFile(atPath: stopFile, contents: nil) }
        let data: Data = try await withCheckedThrowingContinuation { cont in
            Thread.detachNewThread { [output, process] in
                let d = output.fileHandleForReading.readDataToEndOfFile()
                process.waitUntilExit()
                cont.resume(returning: d)
            }
        }
        do { return try JSONDecoder().decode(Result.self, from: data) } catch {
            throw LocalProcess.Failure(
                argv: ["load.py"], status: process.terminationStatus, output: String(decoding: data, as: UTF8.self))
        }
    }
}
