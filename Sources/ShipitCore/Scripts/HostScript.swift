/// One script run on a host in one exec channel, as a value: the layout's paths and each part's
/// values as shell variables (quoted once, here), the shell functions the parts call (each defined
/// once), and the parts' bodies. Scripts report facts as `key=value` lines (`ScriptOutput`) and
/// fail with an `error=` line and a `ScriptExit` status.
///
/// A script of several parts (a pre-flight that also receives the artifact, extracts it and
/// starts it on the idle slot) is composed from the parts' scripts, never from their text.
public struct HostScript: Sendable, Equatable {
    /// A `NAME='value'` assignment.
    public struct Variable: Sendable, Equatable {
        public let name: String
        public let value: String
    }

    /// One part of the script and how it runs.
    public struct Part: Sendable, Equatable {
        public enum Mode: Sendable, Equatable {
            /// In the script's shell.
            case inline
            /// With stdin closed: checks that must pass before a file is taken from stdin.
            case stdinClosed
            /// In a subshell whose status is reported as `<key>.exit=`, while the script goes on:
            /// a later step carried in this channel, whose failure is that step's.
            case contained(key: String)
            /// In a subshell whose `error=` lines become `<key>=` lines: a probe whose failure is
            /// a finding, not the script's.
            case errorsAs(key: String)
        }
        public var step: HostStep?
        public var variables: [Variable]
        public var body: ScriptText
        public var mode: Mode
    }

    public var step: HostStep
    public var timeout: Double?
    public private(set) var layout: [Variable]
    public private(set) var functions: [ShellFunction]
    public private(set) var parts: [Part]

    public init(
        _ step: HostStep, layout: HostLayout, timeout: Double?, variables: [(String, String)] = [],
        uses functions: [ShellFunction] = [], _ body: ScriptText
    ) {
        self.step = step
        self.timeout = timeout
        self.layout = Self.layoutVariables(layout).map { Variable(name: $0.0, value: $0.1) }
        self.functions = functions
        self.parts = [
            Part(step: step, variables: variables.map { Variable(name: $0.0, value: $0.1) }, body: body, mode: .inline)
        ]
    }

    /// The layout as variables: `$D` deploy_to, `$RELEASES`, `$CURRENT`, `$SHARED`, `$META`,
    /// `$LOCK`, `$HISTORY`, `$FAILED`, `$IMAGE_CURRENT`, `$IMAGE_RELEASES`, `$PROXY`, `$SLOTS`.
    static func layoutVariables(_ l: HostLayout) -> [(String, String)] {
        [
            ("D", l.deployTo), ("RELEASES", l.releases), ("CURRENT", l.current), ("SHARED", l.shared),
            ("META", l.meta), ("LOCK", l.lock), ("HISTORY", l.history), ("FAILED", l.failedMarks),
            ("IMAGE_CURRENT", l.imageCurrent), ("IMAGE_RELEASES", l.imageReleases), ("PROXY", l.proxy),
            ("SLOTS", l.slots),
        ]
    }

    /// The value of variable `name` in the first part that sets it (what a test double reads).
    public func value(of name: String) -> String? {
        (parts.flatMap(\.variables) + layout).first { $0.name == name }?.value
    }

    /// The steps this script runs, in order (a pre-flight carrying the staging and the warm-up).
    public var steps: [HostStep] { parts.compactMap(\.step) }

    /// This script, then `next` in the same shell.
    public func then(_ next: HostScript) -> HostScript { joined(next, mode: .inline) }

    /// This script with stdin closed, then `next`, which reads stdin.
    public func thenOnStdin(_ next: HostScript) -> HostScript {
        var first = self
        first.parts = first.parts.map {
            var p = $0
            if p.mode == .inline { p.mode = .stdinClosed }
            return p
        }
        return first.joined(next, mode: .inline)
    }

    /// This script, then `next` in a subshell reported as `<key>.exit=`.
    public func thenContained(_ next: HostScript, as key: String) -> HostScript {
        joined(next, mode: .contained(key: key))
    }

    /// This script, then `next` in a subshell whose `error=` lines are reported as `<key>=`.
    public func thenReporting(_ next: HostScript, errorsAs key: String) -> HostScript {
        joined(next, mode: .errorsAs(key: key))
    }

    /// `body` run first, before every part (taking a file from stdin, placing uploads).
    public func prepending(_ body: ScriptText) -> HostScript {
        var s = self
        s.parts.insert(Part(step: nil, variables: [], body: body, mode: .inline), at: 0)
        return s
    }

    private func joined(_ next: HostScript, mode: Part.Mode) -> HostScript {
        precondition(layout == next.layout, "parts of one script share one layout")
        var s = self
        s.functions += next.functions
        s.parts += next.parts.map {
            var p = $0
            if p.mode == .inline { p.mode = mode }
            return p
        }
        s.timeout = [timeout, next.timeout].compactMap { $0 }.max()
        return s
    }

    /// The shell text sent over the exec channel.
    public var rendered: String {
        // C collation: globs list release ids (timestamps) oldest first, as `sort` would. `$NL`: a
        // newline for IFS, so no text depends on a quoted line break.
        var text = ["set -u", "LC_ALL=C; export LC_ALL", "NL='\n'"]
        text += layout.map(Self.assignment)
        text += ShellFunction.closure(functions).map(\.definition)
        for part in parts {
            let body = ScriptText.lines([
                ScriptText(part.variables.map(Self.assignment).joined(separator: "\n")), part.body,
            ])
            switch part.mode {
            case .inline: text.append(body.rendered())
            case .stdinClosed: text.append(ScriptText.block("{", body, "} </dev/null").rendered())
            case .contained(let key):
                text.append(ScriptText.block("(", body, ")").rendered())
                text.append("echo \"\(key).exit=$?\"")
            case .errorsAs(let key):
                text.append(ScriptText.block("(", body, ") | sed 's/^error=/\(key)=/'").rendered())
                text.append("true")
            }
        }
        return text.filter { !$0.isEmpty }.joined(separator: "\n")
    }

    /// Always in single quotes (a bare word such as `file` reads as a command name to a reader and
    /// to shellcheck), and on one line: a newline in the value is written `'"$NL"'`, so indenting
    /// the line (a part inside a block) cannot change the value.
    static func assignment(_ v: Variable) -> String {
        let quoted = v.value.replacing("'", with: "'\\''").replacing("\n", with: "'\"$NL\"'")
        return "\(v.name)='\(quoted)'"
    }

    /// The script as a command, with the steps it runs after its first.
    public var command: RemoteCommand { RemoteCommand(hostScript: self) }
}
