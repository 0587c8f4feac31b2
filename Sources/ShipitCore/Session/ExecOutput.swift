import SSH

// What `shipit exec` reads of a host's output and outcome, so the CLI needs no import of SSH.

extension ExecRunner.HostOutcome {
    /// The command's exit code on the host (nil: it did not run to an end).
    public var exitCode: Int32? { status?.code }
    /// The signal that killed the command on the host, if one did.
    public var signal: String? { status?.signal }
}

extension OutputChannel {
    /// The stream's name as `shipit exec --json` prints it.
    public var name: String { self == .stdout ? "stdout" : "stderr" }
    public var isStdout: Bool { self == .stdout }
}
