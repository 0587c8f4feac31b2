import Foundation

/// The built `shipit` binary, run the way an operator or a CI step runs it.
public struct ShipitBinary: Sendable {
    public let path: String

    public init(hosts: TestHosts = .current) {
        path = hosts.repoRoot + "/.build/debug/shipit"
    }

    /// Another program run the same way (a wrapper such as /usr/bin/time around shipit).
    public init(path: String) { self.path = path }

    public struct Run: Sendable {
        public let status: Int32
        public let stdout: String
        public let stderr: String
    }

    /// Runs to completion on a dispatch thread (never blocking the test's concurrency pool).
    public func run(_ args: [String], cwd: String? = nil, environment: [String: String]? = nil) async throws -> Run {
        try await withCheckedThrowingContinuation { cont in
            Thread.detachNewThread {
                cont.resume(with: Result { try runBlocking(args, cwd: cwd, environment: environment) })
            }
        }
    }

    func runBlocking(_ args: [String], cwd: String?, environment: [String: String]?) throws -> Run {
        let p = start(args, cwd: cwd, environment: environment)
        let out = p.standardOutput as! Pipe
        let err = p.standardError as! Pipe
        try p.run()
        // Drain stderr concurrently: a full pipe would block the child.
        nonisolated(unsafe) var e = Data()
        let group = DispatchGroup()
        group.enter()
        Thread.detachNewThread {
            e = err.fileHandleForReading.readDataToEndOfFile()
            group.leave()
        }
        let o = out.fileHandleForReading.readDataToEndOfFile()
        group.wait()
        p.waitUntilExit()
        return Run(
            status: p.terminationStatus, stdout: String(decoding: o, as: UTF8.self),
            stderr: String(decoding: e, as: UTF8.self))
    }

    /// `shipit <command> --config <config> <rest…>`, as an operator runs it against one config.
    /// `--config` goes after the command words (`rollout promote`, `maintenance on`), before the
    /// first option.
    public func run(config: String, _ args: [String], environment: [String: String]? = nil) async throws -> Run {
        let words = args.prefix { !$0.hasPrefix("-") }
        return try await run(
            Array(words) + ["--config", config] + args.dropFirst(words.count), environment: environment)
    }

    /// A configured, not yet started process (for tests that signal it).
    public func start(_ args: [String], cwd: String? = nil, environment: [String: String]? = nil) -> Process {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: path)
        p.arguments = args
        if let cwd { p.currentDirectoryURL = URL(fileURLWithPath: cwd) }
        if let environment { p.environment = environment }
        p.standardOutput = Pipe()
        p.standardError = Pipe()
        p.standardInput = FileHandle.nullDevice
        return p
    }

    /// Reads a running process's stdout until one of `markers` shows up (or EOF, or `timeout`), on
    /// a dispatch thread. Returns what was read.
    public static func read(_ pipe: Pipe, until markers: [String], timeout: Double = 30) async -> String {
        await withCheckedContinuation { cont in
            Thread.detachNewThread {
                var seen = ""
                let deadline = Date().addingTimeInterval(timeout)
                while !markers.contains(where: { seen.contains($0) }) && Date() < deadline {
                    let chunk = pipe.fileHandleForReading.availableData
                    if chunk.isEmpty { break }
                    seen += String(decoding: chunk, as: UTF8.self)
                }
                cont.resume(returning: seen)
            }
        }
    }

    /// Waits for a started process; returns its exit status and the rest of its stdout.
    public static func finish(_ p: Process) async -> (status: Int32, stdout: String) {
        let status = await wait(p)
        let out = (p.standardOutput as! Pipe).fileHandleForReading.readDataToEndOfFile()
        return (status, String(decoding: out, as: UTF8.self))
    }

    /// Waits for a started process on a dispatch thread; returns its exit status.
    public static func wait(_ p: Process) async -> Int32 {
        await withCheckedContinuation { cont in
            Thread.detachNewThread {
                p.waitUntilExit()
                cont.resume(returning: p.terminationStatus)
            }
        }
    }

    /// Decodes a `--json` document the way a CI script would.
    public static func decode<T: Decodable>(_ type: T.Type, _ text: String) throws -> T {
        let d = JSONDecoder()
        d.dateDecodingStrategy = .iso8601
        return try d.decode(type, from: Data(text.utf8))
    }
}
