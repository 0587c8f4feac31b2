import Foundation

/// Every program a test host starts while it is traced: strace follows the host's listening sshd
/// and everything it forks (the connection's sshd, the login shell of each exec channel, the tools
/// the scripts run), one output file per process, and `finish()` reads the execve calls that
/// succeeded. The app's own start command and what it execs are left out: they are the app's,
/// not what a deploy costs the host.
public final class ProcessTrace: @unchecked Sendable {
    public struct Exec: Sendable, CustomStringConvertible {
        public let program: String
        public let arguments: String
        public var description: String { "\(program) \(arguments.prefix(60))" }
    }

    let strace: Process
    let prefix: String
    let appStart: String

    /// Attaches to the sshd whose pid file is `pidFile`; returns once the tracer is attached.
    /// `appStart`: the config's `start` command.
    public init(sshdPidFile pidFile: String, appStart: String = "sh start.sh") async throws {
        self.appStart = appStart
        guard
            let pid = try String(contentsOfFile: pidFile, encoding: .utf8).split(whereSeparator: \.isWhitespace).first
                .map(String.init)
        else {
            throw TraceError(message: "no pid in \(pidFile)")
        }
        prefix = Local.tempDir("strace") + "/t"
        strace = Process()
        strace.executableURL = URL(fileURLWithPath: "/usr/bin/strace")
        // Attached with -p, strace stops the traced processes at every system call (its seccomp
        // filter only serves programs it starts): a traced run is slow, give it time.
        strace.arguments = [
            "-f", "-ff", "-qq", "-e", "trace=execve", "-e", "signal=none", "-s", "80", "-o", prefix, "-p", pid,
        ]
        strace.standardOutput = FileHandle.nullDevice
        strace.standardError = FileHandle.nullDevice
        try strace.run()
        // Attached once the kernel names a tracer for that process.
        for _ in 0..<200 {
            let status = (try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8)) ?? ""
            if let line = status.split(separator: "\n").first(where: { $0.hasPrefix("TracerPid:") }),
                line.split(separator: "\t").last.map({ $0.trimmingCharacters(in: .whitespaces) }) != "0"
            {
                return
            }
            if !strace.isRunning { break }
            try await Task.sleep(for: .milliseconds(20))
        }
        strace.stopIfRunning()
        throw TraceError(message: "strace could not attach to sshd \(pid) (is ptrace allowed here?)")
    }

    /// Detaches and returns what was started, in no particular order.
    public func finish() async throws -> [Exec] {
        // SIGTERM, not SIGINT: a test runner's children may inherit SIGINT ignored, and strace
        // then keeps ignoring it.
        strace.stopIfRunning()
        for _ in 0..<500 where strace.isRunning { try await Task.sleep(for: .milliseconds(20)) }
        if strace.isRunning { strace.stopIfRunning(SIGKILL) }
        await ShipitBinary.wait(strace)
        let dir = (prefix as NSString).deletingLastPathComponent
        var all: [Exec] = []
        for file in try FileManager.default.contentsOfDirectory(atPath: dir) where file.hasPrefix("t.") {
            let text = try String(contentsOfFile: dir + "/" + file, encoding: .utf8)
            let execs = text.split(separator: "\n").compactMap { line -> Exec? in
                guard line.hasPrefix("execve(\""), line.hasSuffix("= 0") else { return nil }
                let rest = line.dropFirst("execve(\"".count)
                guard let end = rest.firstIndex(of: "\"") else { return nil }
                return Exec(program: String(rest[..<end]), arguments: String(rest[end...].dropFirst(3)))
            }
            // One process's file: the shell that runs the app's start command (`sh -c 'sh
            // start.sh'`, or the release-environment runner `sh -c '…eval "$0"' 'sh start.sh'
            // ENV_FILE`), or start.sh itself, and what it execs in place (setsid, the app).
            if let first = execs.first,
                first.arguments.hasPrefix("[\"sh\", \"-c\", \"\(appStart)\"]")
                    || (first.arguments.hasPrefix("[\"sh\", \"-c\", \"if [ -f \\\"$1\\\" ]; then set -a;")
                        && first.arguments.contains("\"\(appStart)\""))
                    || first.arguments.hasPrefix("[\"sh\", \"start.sh\"]")
            {
                continue
            }
            all += execs
        }
        return all
    }

    struct TraceError: Error, CustomStringConvertible {
        let message: String
        var description: String { message }
    }
}
