import Foundation
import SSH
import TestSupport
import Testing

@Suite("exec against real sshd")
struct ExecTests {
    let hosts = TestHosts.current

    @Test func stdoutStderrAndExitCodes() async throws {
        let s = try await hosts.connect()
        try await withCleanup({ await s.close() }) {
            let ok = try await s.exec("echo out; echo err >&2")
            #expect(ok.exitCode == 0)
            #expect(ok.stdoutText == "out\n")
            #expect(ok.stderrText == "err\n")

            let one = try await s.exec("echo failing >&2; exit 1")
            #expect(one.exitCode == 1)
            #expect(one.stderrText == "failing\n")
            #expect(one.stdout.isEmpty)

            let missing = try await s.exec("definitely-not-a-command-xyz")
            #expect(missing.exitCode == 127)
            #expect(missing.stderrText.contains("not found"))
        }
    }

    @Test func runsAsTheDeployUserWithAPrivateSrv() async throws {
        let s = try await hosts.connect(1)
        try await withCleanup({ await s.close() }) {
            let r = try await s.exec("id -un; stat -c %U /srv")
            #expect(r.stdoutText == "\(hosts.user)\n\(hosts.user)\n")
        }
    }

    @Test func tenMegabytesOfStdoutDoNotDeadlock() async throws {
        let s = try await hosts.connect()
        try await withCleanup({ await s.close() }) {
            let r = try await s.exec("head -c 10485760 /dev/zero | tr '\\0' 'x'", timeout: 60)
            #expect(r.exitCode == 0)
            #expect(r.stdout.count == 10_485_760)
            #expect(r.stdout.allSatisfy { $0 == UInt8(ascii: "x") })
        }
    }

    @Test func bothStreamsLargeAtOnce() async throws {
        // Each stream alone overflows the channel window: reading only one of them would hang.
        let s = try await hosts.connect()
        try await withCleanup({ await s.close() }) {
            let r = try await s.exec(
                "for i in 1 2 3 4; do head -c 3000000 /dev/zero >&2; head -c 3000000 /dev/zero; done", timeout: 60)
            #expect(r.exitCode == 0)
            #expect(r.stdout.count == 12_000_000)
            #expect(r.stderr.count == 12_000_000)
        }
    }

    @Test func captureLimitKeepsTheTail() async throws {
        let s = try await hosts.connect()
        try await withCleanup({ await s.close() }) {
            let r = try await s.exec("seq 1 100000", captureLimit: 1000)
            #expect(r.stdout.count == 1000)
            #expect(r.stdoutText.hasSuffix("99999\n100000\n"))
            #expect(
                r.stdoutDropped == Int(
                    try await Local.run(["sh", "-c", "seq 1 100000 | wc -c"]).trimmingCharacters(
                        in: .whitespacesAndNewlines))! - 1000)
        }
    }

    /// A command longer than one SSH packet (libssh2's 35,000 bytes) runs as sent: its stdin, its
    /// output and its exit status are the command's own (it is sent compressed, and a host script
    /// compresses about as well as these lines).
    @Test(arguments: [20_000, 40_000, 150_000]) func aLongCommandRunsWhole(bytes: Int) async throws {
        let s = try await hosts.connect()
        try await withCleanup({ await s.close() }) {
            var command = "read -r first; echo \"got $first\"\n"
            var n = 0
            while command.utf8.count < bytes {
                command += "v\(n)=\"value number \(n) of a long command\"\n"
                n += 1
            }
            command += "echo \"last $v\(n - 1)\"; exit 7"
            let r = try await s.exec(command, stdin: Data("hello\n".utf8))
            #expect(r.exitCode == 7, "\(r.stderrText)")
            #expect(r.stdoutText == "got hello\nlast value number \(n - 1) of a long command\n", "\(r.stdoutText)")
        }
    }

    /// One that does not fit even compressed is refused before anything is sent, saying why.
    @Test func aCommandTooLongEvenCompressedIsRefused() async throws {
        let s = try await hosts.connect()
        try await withCleanup({ await s.close() }) {
            var g = SystemRandomNumberGenerator()
            let noise = (0..<60_000).map { _ in "abcdefghijklmnopqrstuvwxyz0123456789".randomElement(using: &g)! }
            await #expect {
                _ = try await s.exec(": " + String(noise))
            } throws: { ($0 as? SSHError)?.message.contains("too long to send even compressed") == true }
        }
    }

    @Test func streamingDeliversEveryByte() async throws {
        let s = try await hosts.connect()
        try await withCleanup({ await s.close() }) {
            let counter = ByteCounter()
            let r = try await s.exec("seq 1 50000; echo done >&2") { stream, data in counter.add(stream, data.count) }
            #expect(r.exitCode == 0)
            let expected = Int(
                try await Local.run(["sh", "-c", "seq 1 50000 | wc -c"]).trimmingCharacters(in: .whitespacesAndNewlines)
            )!
            #expect(counter.stdout == expected)
            #expect(counter.stderr == 5)
        }
    }

    @Test func stdinIsDelivered() async throws {
        let s = try await hosts.connect()
        try await withCleanup({ await s.close() }) {
            let input = Data((0..<200_000).map { _ in UInt8.random(in: 97...122) })
            let r = try await s.exec("sha256sum", stdin: input)
            let file = Local.tempDir() + "/stdin"
            try input.write(to: URL(fileURLWithPath: file))
            #expect(r.stdoutText.prefix(64) == (try Local.sha256(file)).prefix(64))
        }
    }

    @Test func aFileStreamsOnStdinInChunksAndSmallInputsToo() async throws {
        let s = try await hosts.connect()
        try await withCleanup({ await s.close() }) {
            // 5 MiB and a bit: several 1 MiB buffer refills and many channel windows.
            let file = Local.tempDir() + "/big"
            try Data((0..<(5 * 1024 * 1024 + 4321)).map { _ in UInt8.random(in: 0...255) }).write(
                to: URL(fileURLWithPath: file))
            let r = try await s.exec("sha256sum; echo done >&2", stdinPath: file)
            #expect(r.status.succeeded)
            #expect(r.stdoutText.prefix(64) == (try Local.sha256(file)).prefix(64))
            #expect(r.stderrText == "done\n")
            // An input small enough for `Data` to keep inline, and an empty one.
            #expect(try await s.exec("cat", stdin: Data("tiny".utf8)).stdoutText == "tiny")
            #expect(
                try await s.exec("wc -c", stdin: Data()).stdoutText.trimmingCharacters(in: .whitespacesAndNewlines)
                    == "0")
            // A command that exits without reading its stdin does not hang the writer.
            #expect(try await s.exec("exit 3", stdinPath: file).exitCode == 3)
            await #expect(throws: SSHError.self) { try await s.exec("cat", stdinPath: file + ".missing") }
        }
    }

    @Test func commandTimeoutDoesNotHang() async throws {
        let s = try await hosts.connect()
        try await withCleanup({ await s.close() }) {
            let start = ContinuousClock.now
            await #expect(throws: SSHError.self) { try await s.exec("sleep 300", timeout: 1) }
            // Far less than the 300 s the command would take. Loose on purpose: the whole suite runs
            // at once on 2 cores, and this task may wait tens of seconds to be scheduled again.
            #expect(ContinuousClock.now - start < .seconds(90))
        }
    }

    @Test func invalidUTF8OutputSurvives() async throws {
        let s = try await hosts.connect()
        try await withCleanup({ await s.close() }) {
            let r = try await s.exec("printf 'a\\377\\376b'")
            #expect(r.stdout == Data([0x61, 0xFF, 0xFE, 0x62]))
        }
    }

    @Test func oneSessionManyCommands() async throws {
        let s = try await hosts.connect()
        try await withCleanup({ await s.close() }) {
            for i in 0..<20 {
                let r = try await s.exec("echo \(i)")
                #expect(r.stdoutText == "\(i)\n")
            }
        }
    }

    @Test func twentySessionsInParallel() async throws {
        let hosts = self.hosts
        let results = try await withThrowingTaskGroup(of: (Int, String).self) { group in
            for i in 0..<20 {
                group.addTask {
                    let s = try await hosts.connect(i)
                    let r = try await s.exec("sleep 0.2; echo session-\(i)")
                    await s.close()
                    return (i, r.stdoutText)
                }
            }
            var all: [Int: String] = [:]
            for try await (i, out) in group { all[i] = out }
            return all
        }
        #expect(results.count == 20)
        for i in 0..<20 { #expect(results[i] == "session-\(i)\n") }
    }
}

final class ByteCounter: @unchecked Sendable {
    private let lock = NSLock()
    private(set) var stdout = 0
    private(set) var stderr = 0
    func add(_ stream: OutputChannel, _ n: Int) {
        lock.lock()
        defer { lock.unlock() }
        if stream == .stdout { stdout += n } else { stderr += n }
    }
}
