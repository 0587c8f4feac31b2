import FoundationEssentials

/// The release's environment on a host: written once per host before the release is started (or
/// migrated), as `.shipit/env/<release>` (0600, in a 0700 directory), replaced whole. The values
/// travel on the command's stdin, never in its text: a host's process list shows the text.
///
/// The file is for a POSIX shell (`NAME='value'` lines, each value quoted), which every host-side
/// script reads (start, roles, migrations). A strategy whose containers take an engine's
/// `--env-file` (`NAME=value`, taken literally) also gets `<release>.engine`, made from it on the
/// host by a shell that reads each value into a variable and prints it: no value is ever parsed
/// as shell text the wrong way round.
public struct ReleaseEnvFile: Sendable {
    public let command: RemoteCommand
    public let contents: Data

    /// nil without `env:` or `secrets:`.
    public static func make(_ strategy: ReleaseStrategy, releaseID: String, environment: ReleaseEnvironment?)
        throws(ShipitError) -> ReleaseEnvFile?
    {
        guard let environment else { return nil }
        var engine: ScriptText = .empty
        if strategy.containerEnvFile {
            // A value an engine's env file cannot hold is refused before anything is written.
            _ = try environment.engineFile()
            // Names are checked identifiers: safe as words of the script.
            let prints = environment.entries.map { "printf '%s=%s\\n' \($0.name) \"$\($0.name)\"" }
            engine = ScriptText(
                """
                # shellcheck source=/dev/null
                if ! (umask 077; set -a; . "$META/env/$ID"; set +a
                  { \(prints.joined(separator: "; ")); } > "$META/env/$ID.engine.part") || ! mv -f "$META/env/$ID.engine.part" "$META/env/$ID.engine"; then
                  rm -f "$META/env/$ID.engine.part"; fail \(ScriptExit.fileNotPlaced) "cannot write $META/env/$ID.engine"
                fi
                """)
        }
        let layout = strategy.layout
        let directory = HostScript(
            .config, layout: layout, timeout: 60, uses: [.fail],
            """
            mkdir -p "$META/env" && chmod 700 "$META/env" || fail \(ScriptExit.notWritable) "cannot make $META/env"
            """)
        let written = HostScript(
            .config, layout: layout, timeout: 60, variables: [("ID", releaseID)], uses: [.fail],
            engine + "echo \"config=written\"")
        return ReleaseEnvFile(
            command: directory.command.thenReceiving(written.command, stdinAt: layout.releaseEnv(releaseID)),
            contents: Data(environment.shellFile.utf8))
    }
}
