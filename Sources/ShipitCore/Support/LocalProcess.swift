import FoundationEssentials
import Glibc
import SSH

// GNU extensions that Swift's Glibc module does not import (glibc ≥ 2.34 for closefrom).
@_silgen_name("pipe2")
private func pipe2(_ fds: UnsafeMutablePointer<Int32>, _ flags: Int32) -> Int32
@_silgen_name("posix_spawn_file_actions_addclosefrom_np")
private func spawnCloseFrom(_ actions: UnsafeMutablePointer<posix_spawn_file_actions_t>, _ from: Int32) -> Int32

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
    public static func run(_ argv: [String], stdin: Data? = nil, env: [String: String]? = nil) throws -> String {
        let (status, out) = try runStatus(argv, stdin: stdin, env: env)
        guard status == 0 else { throw Failure(argv: argv, status: status, output: out) }
        return out
    }

    /// `runStatus` on a thread of its own: waiting for a child (a hook, a test's shipit) must not
    /// hold one of the few threads Swift concurrency runs every host's task on, nor one of
    /// libdispatch's workers (it adds workers for blocked ones only slowly).
    public static func runStatusDetached(
        _ argv: [String], stdin: Data? = nil, env: [String: String]? = nil,
        keepTail: Int? = nil
    ) async throws -> (Int32, String) {
        try await withCheckedThrowingContinuation { cont in
            DetachedThread.start {
                cont.resume(with: Result { try runStatus(argv, stdin: stdin, env: env, keepTail: keepTail) })
            }
        }
    }

    /// Runs to the end and returns the exit status and output (stdout and stderr together). With
    /// `keepTail`, only the last that many bytes are kept: a program printing gigabytes (a hook
    /// gone wrong) costs bounded memory.
    public static func runStatus(
        _ argv: [String], stdin: Data? = nil, env: [String: String]? = nil,
        keepTail: Int? = nil
    ) throws -> (Int32, String) {
        // Through env(1) unless a path is given: PATH is looked up in the child's environment.
        let args = argv[0].hasPrefix("/") ? argv : ["/usr/bin/env"] + argv
        var output: [Int32] = [-1, -1]
        var input: [Int32] = [-1, -1]
        guard openPipe(&output) else { throw POSIXFailure(operation: "pipe") }
        defer { if output[0] >= 0 { close(output[0]) } }
        if stdin != nil, !openPipe(&input) {
            close(output[1])
            throw POSIXFailure(operation: "pipe")
        }

        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        if stdin != nil {
            posix_spawn_file_actions_adddup2(&actions, input[0], 0)
        } else {
            posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        }
        posix_spawn_file_actions_adddup2(&actions, output[1], 1)
        posix_spawn_file_actions_adddup2(&actions, output[1], 2)
        // Nothing else of shipit's reaches the child (SSH sockets, the ledger, other children's
        // pipes): a long-lived child holding another run's pipe would keep that run from its EOF.
        _ = spawnCloseFrom(&actions, 3)

        // The child starts with default signal handling and nothing blocked: shipit's own
        // SIGINT/SIGTERM handlers and an ignored SIGPIPE must not carry over into a hook.
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var all = sigset_t()
        var none = sigset_t()
        sigfillset(&all)
        sigdelset(&all, SIGKILL)
        sigdelset(&all, SIGSTOP)
        sigemptyset(&none)
        posix_spawnattr_setsigdefault(&attributes, &all)
        posix_spawnattr_setsigmask(&attributes, &none)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK))

        let environment = env.map { $0.map { "\($0.key)=\($0.value)" } }
        var pid: pid_t = 0
        let rc = CStringArray.with(args) { argvC in
            if let environment {
                return CStringArray.with(environment) { envC in
                    posix_spawn(&pid, args[0], &actions, &attributes, argvC, envC)
                }
            }
            return posix_spawn(&pid, args[0], &actions, &attributes, argvC, environ)
        }
        close(output[1])
        if stdin != nil { close(input[0]) }
        guard rc == 0 else {
            if stdin != nil { close(input[1]) }
            throw POSIXFailure(operation: "start \(argv[0])", code: rc)
        }
        if let stdin {
            let writeEnd = input[1]
            DetachedThread.start {
                // A program that exits without reading all of it closes the pipe: not an error here.
                _ = try? FileDescriptorIO.write(writeEnd, stdin)
                close(writeEnd)
            }
        }
        let tail = (try? FileDescriptorIO.readAll(output[0], keepTail: keepTail ?? .max)) ?? TailBuffer(limit: 0)
        var text = String(decoding: tail.data, as: UTF8.self)
        if tail.dropped > 0 { text = "[\(tail.dropped) bytes of earlier output not kept]\n" + text }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        // As Foundation's Process did: the exit code, or the number of the signal that ended it.
        let code = (status & 0x7f) == 0 ? (status >> 8) & 0xff : status & 0x7f
        return (code, text)
    }

    /// A pipe whose ends are close-on-exec from the start (pipe2: no window in which another
    /// thread's child could inherit them; dup2 gives our child its own copies).
    private static func openPipe(_ fds: inout [Int32]) -> Bool {
        fds.withUnsafeMutableBufferPointer { pipe2($0.baseAddress!, O_CLOEXEC) } == 0
    }
}
