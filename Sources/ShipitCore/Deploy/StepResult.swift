/// What one step on one host produced: success, the script's `key=value` facts, why it failed,
/// and for the ledger the exit status and stderr tail.
public struct StepResult: Sendable {
    public var ok: Bool
    public var output: ScriptOutput
    public var error: String?
    public var exitStatus: Int32?
    public var stderrTail: String?
    /// The connection died (or the command timed out) after the script may have started: what it
    /// did on the host is not known.
    public var outcomeUnknown = false
    /// Said on the progress line of a step that succeeded (e.g. it was done by an earlier one).
    public var note: String?

    public init(
        ok: Bool, output: ScriptOutput, error: String? = nil, exitStatus: Int32? = nil, stderrTail: String? = nil
    ) {
        self.ok = ok
        self.output = output
        self.error = error
        self.exitStatus = exitStatus
        self.stderrTail = stderrTail
    }

    /// Failed before any script ran (connection, upload).
    public init(failure: String) {
        self.init(ok: false, output: ScriptOutput(""), error: failure)
    }
}
