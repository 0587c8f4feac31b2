import FoundationEssentials

/// The release's environment on a host: written once per host before the release is started (or
/// migrated), as `.shipit/env/<release>` (0600, in a 0700 directory), replaced whole. The values
/// travel on the command's stdin, never in its text: a host's process list shows the text.
public struct ReleaseEnvFile: Sendable {
    public let command: RemoteCommand
    public let contents: Data

    /// nil without `env:` or `secrets:`.
    public static func make(_ strategy: ReleaseStrategy, releaseID: String, environment: ReleaseEnvironment?)
        throws(ShipitError) -> ReleaseEnvFile?
    {
        guard let environment else { return nil }
        let text = try strategy.envFileText(environment)
        let layout = strategy.layout
        let directory = HostScript(
            .config, layout: layout, timeout: 60, uses: [.fail],
            """
            mkdir -p "$META/env" && chmod 700 "$META/env" || fail \(ScriptExit.notWritable) "cannot make $META/env"
            """)
        let written = HostScript(.config, layout: layout, timeout: 60, "echo \"config=written\"")
        return ReleaseEnvFile(
            command: directory.command.thenReceiving(written.command, stdinAt: layout.releaseEnv(releaseID)),
            contents: Data(text.utf8))
    }
}
