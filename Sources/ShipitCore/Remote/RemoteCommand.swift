import FoundationEssentials

/// A command to run on a host, as data: argv (each element quoted when rendered) or a trusted script
/// made by shipit's own builders, plus environment, working directory and timeout. Builders return
/// these and never touch the network, so every plan can be printed (`--dry-run`) and unit-tested.
public struct RemoteCommand: Sendable, Equatable, CustomStringConvertible {
    public enum Body: Sendable, Equatable {
        case argv([String])
        /// Already-rendered shell text. Only builders that quote every value themselves create this.
        case script(String)
        /// A host script of shipit's own, as a value (rendered when sent).
        case host(HostScript)
    }

    public var body: Body
    /// Which step of shipit this is (nil for an operator's own command): what the ledger, the
    /// progress output and test doubles key on, never the script's text.
    public var step: HostStep?
    /// Further steps this one script runs after `step` (`then`), e.g. a rollback's pre-flight that
    /// carries the inventory.
    public private(set) var alsoRuns: [HostStep] = []
    public var env: [(String, String)] { envPairs.map { ($0.name, $0.value) } }
    public var cwd: String?
    public var timeout: Double?
    private var envPairs: [EnvVar]

    struct EnvVar: Sendable, Equatable {
        let name: String
        let value: String
    }

    public init(_ argv: [String], env: [(String, String)] = [], cwd: String? = nil, timeout: Double? = nil) {
        self.body = .argv(argv)
        self.envPairs = env.map { EnvVar(name: $0.0, value: $0.1) }
        self.cwd = cwd
        self.timeout = timeout
    }

    public init(hostScript: HostScript) {
        self.body = .host(hostScript)
        self.step = hostScript.step
        self.alsoRuns = Array(hostScript.steps.dropFirst())
        self.envPairs = []
        self.timeout = hostScript.timeout
    }

    /// The typed script, for a command built from one.
    public var hostScript: HostScript? {
        if case .host(let s) = body { return s }
        return nil
    }

    public init(
        script: String, step: HostStep? = nil, env: [(String, String)] = [], cwd: String? = nil, timeout: Double? = nil
    ) {
        self.body = .script(script)
        self.step = step
        self.envPairs = env.map { EnvVar(name: $0.0, value: $0.1) }
        self.cwd = cwd
        self.timeout = timeout
    }

    /// Two builder scripts run one after the other in one exec channel (e.g. pre-flight, then the
    /// inventory a rollback needs): one round trip and one shell instead of two. The step stays the
    /// first one's.
    public func then(_ next: RemoteCommand) -> RemoteCommand {
        if let a = hostScript, let b = next.hostScript { return a.then(b).command }
        guard case .script(let a) = body, case .script(let b) = next.body else { return self }
        var c = self
        c.body = .script(a + "\n" + b)
        c.alsoRuns += [next.step].compactMap { $0 } + next.alsoRuns
        return c
    }

    /// This script, first writing its stdin to `path` (mode 0600, replaced whole): a file and the
    /// command that consumes it in one exec channel, with no SFTP.
    public func receiving(stdinAt path: String) -> RemoteCommand {
        if let s = hostScript { return s.prepending(ScriptText(Self.receive(path))).command }
        guard case .script(let text) = body else { preconditionFailure("only a builder script can receive a file") }
        var c = self
        c.body = .script(Self.receive(path) + "\n" + text)
        return c
    }

    /// This script with its stdin closed (it must not read what is meant for `next`), then `next`
    /// in the same shell, taking the channel's stdin into `path` first: checks that must pass
    /// before a file is taken, and the file, in one exec channel.
    public func thenReceiving(_ next: RemoteCommand, stdinAt path: String) -> RemoteCommand {
        if let a = hostScript, let b = next.hostScript {
            return a.thenOnStdin(b.prepending(ScriptText(Self.receive(path)))).command
        }
        guard case .script(let a) = body, case .script(let b) = next.body else {
            preconditionFailure("only builder scripts combine")
        }
        var c = self
        c.body = .script("{\n\(a)\n} </dev/null\n" + Self.receive(path) + "\n" + b)
        c.alsoRuns += [next.step].compactMap { $0 } + next.alsoRuns
        c.timeout = [timeout, next.timeout].compactMap { $0 }.max()
        return c
    }

    /// This script, then `next` in a subshell whose exit status is reported as `<key>.exit=` while
    /// the whole script still succeeds: a later step carried in this channel, whose failure is that
    /// step's (recorded there), not this one's. `next`'s variables and traps stay in its subshell.
    public func thenContained(_ next: RemoteCommand, as key: String) -> RemoteCommand {
        if let a = hostScript, let b = next.hostScript { return a.thenContained(b, as: key).command }
        guard case .script(let a) = body, case .script(let b) = next.body else {
            preconditionFailure("only builder scripts combine")
        }
        var c = self
        c.body = .script(a + "\n(\n" + b + "\n)\necho \"\(key).exit=$?\"")
        c.alsoRuns += [next.step].compactMap { $0 } + next.alsoRuns
        c.timeout = [timeout, next.timeout].compactMap { $0 }.max()
        return c
    }

    /// Only the receiving part (a file the script needs besides the one on its own stdin).
    public func receivingOnly(stdinAt path: String) -> RemoteCommand {
        var c = RemoteCommand(script: Self.receive(path), step: step, timeout: timeout)
        c.alsoRuns = []
        return c
    }

    /// This script, first moving each file uploaded (SFTP, SCP) at a fresh temporary path into its
    /// place: mode 0600, then renamed over the old file. Written over in place, an existing file
    /// would keep its old mode (SCP and SFTP set the mode only on a file they create), and a reader
    /// holding it open would read the new contents; renamed, the new contents are a new file.
    public func placing(_ files: [(uploaded: String, path: String)]) -> RemoteCommand {
        guard !files.isEmpty else { return self }
        if let s = hostScript {
            return s.prepending(ScriptText(files.map { Self.place($0.uploaded, at: $0.path) }.joined(separator: "\n")))
                .command
        }
        guard case .script(let text) = body else { preconditionFailure("only a builder script can place files") }
        var c = self
        c.body = .script(files.map { Self.place($0.uploaded, at: $0.path) }.joined(separator: "\n") + "\n" + text)
        return c
    }

    /// A temporary name next to `path` that no earlier run used (an old one could have any mode).
    public static func uploadPath(for path: String) -> String {
        path + ".part-" + UUID().uuidString.prefix(8).lowercased()
    }

    static func place(_ uploaded: String, at path: String) -> String {
        let u = ShellQuote.quote(uploaded)
        let q = ShellQuote.quote(path)
        return """
            if ! (chmod 600 \(u) && mv -f \(u) \(q)); then rm -f \(u); echo "error=placing \(path.filter { $0 != "\"" && $0 != "$" && $0 != "`" && $0 != "\\" }) failed"; exit \(ScriptExit.fileNotPlaced); fi
            """
    }

    static func receive(_ path: String) -> String {
        let q = ShellQuote.quote(path)
        let tmp = ShellQuote.quote(path + ".part")
        return """
            if ! (umask 077 && cat > \(tmp) && mv -f \(tmp) \(q)); then rm -f \(tmp); echo "error=receiving \(path.filter { $0 != "\"" && $0 != "$" && $0 != "`" && $0 != "\\" }) failed (disk full?)"; exit \(ScriptExit.fileNotPlaced); fi
            """
    }

    public static func isValidEnvName(_ name: String) -> Bool {
        guard let first = name.unicodeScalars.first, first == "_" || (first.isASCII && first.properties.isAlphabetic)
        else { return false }
        return name.unicodeScalars.allSatisfy {
            $0 == "_" || ($0.isASCII && ($0.properties.isAlphabetic || ("0"..."9").contains($0)))
        }
    }

    /// The one shell string sent over the exec channel.
    public var rendered: String {
        var parts: [String] = []
        if let cwd { parts.append("cd \(ShellQuote.quote(cwd)) &&") }
        for pair in envPairs {
            precondition(Self.isValidEnvName(pair.name), "invalid environment variable name \(pair.name)")
            parts.append("\(pair.name)=\(ShellQuote.quote(pair.value))")
        }
        switch body {
        case .argv(let argv):
            if !envPairs.isEmpty { parts.append("exec") }
            parts.append(ShellQuote.join(argv))
        case .script, .host:
            let text = scriptText
            if envPairs.isEmpty {
                parts.append(text)
            } else {
                // Assignments before a compound command do not apply to it; export them instead.
                parts = parts.map { $0.hasSuffix("&&") ? $0 : "export \($0);" }
                parts.append(text)
            }
        }
        return parts.joined(separator: " ")
    }

    private var scriptText: String {
        switch body {
        case .argv(let argv): return ShellQuote.join(argv)
        case .script(let text): return text
        case .host(let s): return s.rendered
        }
    }

    public var description: String { rendered }
}
