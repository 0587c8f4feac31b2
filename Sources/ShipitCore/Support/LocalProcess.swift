import Foundation
import SSH

/// Runs a program on the deployer (tar, git, sha256sum, hooks). Never used to reach a host: that is
/// libssh2's job.
public enum LocalProcess {
    public struct Failure: Error, CustomStringConvertible {
        public let argv: [String]
        public let status: Int32
        public let output: String
        public init(argv: [String], status: Int32, output: String) {
            self.argv = argv
            self.status = status
            self.output = output
        }
        public var description: String { "\(argv.joined(separator: " ")) exited \(status): \(output.suffix(2000))" }
    }

    @discardableResult
    public static func run(_ argv: [String], stdin: Data? = nil, cwd: String? = nil, env: [String: String]? = nil) throws -> String {
        let (status, out) = try runStatus(argv, stdin: stdin, cwd: cwd, env: env)
        guard status == 0 else { throw Failure(argv: argv, status: status, output: out) }
        return out
    }

    /// `runStatus` on a thread of its own: waiting for a child (a hook, a test's shipit) must not
    /// hold one of the few threads Swift concurrency runs every host's task on, nor one of
    /// libdispatch's workers (it adds workers for blocked ones only slowly).
    public static func runStatusDetached(_ argv: [String], stdin: Data? = nil, cwd: String? = nil, env: [String: String]? = nil,
                                         keepTail: Int? = nil) async throws -> (Int32, String) {
        try await withCheckedThrowingContinuation { cont in
            Thread.detachNewThread {
                cont.resume(with: Result { try runStatus(argv, stdin: stdin, cwd: cwd, env: env, keepTail: keepTail) })
            }
        }
    }

    /// Runs to the end and returns the exit status and output (stdout and stderr together). With
    /// `keepTail`, only the last that many bytes are kept: a program printing gigabytes (a hook
    /// gone wrong) costs bounded memory.
    public static func runStatus(_ argv: [String], stdin: Data? = nil, cwd: String? = nil, env: [String: String]? = nil,
                                 keepTail: Int? = nil) throws -> (Int32, String) {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: argv[0].hasPrefix("/") ? argv[0] : "/usr/bin/env")
        p.arguments = argv[0].hasPrefix("/") ? Array(argv.dropFirst()) : argv
        if let cwd { p.currentDirectoryURL = URL(fileURLWithPath: cwd) }
        if let env { p.environment = env }
        let out = Pipe()
        p.standardOutput = out
        p.standardError = out
        let input = Pipe()
        p.standardInput = stdin == nil ? FileHandle.nullDevice : input
        try p.run()
        if let stdin {
            Thread.detachNewThread {
                // A program that exits without reading all of it closes the pipe: not an error here.
                try? input.fileHandleForWriting.write(contentsOf: stdin)
                try? input.fileHandleForWriting.close()
            }
        }
        var tail = TailBuffer(limit: keepTail ?? .max)
        while true {
            let chunk = out.fileHandleForReading.availableData
            if chunk.isEmpty { break }
            tail.append(chunk)
        }
        var text = String(decoding: tail.data, as: UTF8.self)
        if tail.dropped > 0 { text = "[\(tail.dropped) bytes of earlier output not kept]\n" + text }
        p.waitUntilExit()
        return (p.terminationStatus, text)
    }
}
