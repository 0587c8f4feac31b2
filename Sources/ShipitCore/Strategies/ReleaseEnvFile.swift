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

    /// Shell text for `sh -c '…' COMMAND ENV_FILE`: the env file's variables exported (when there
    /// is one), then COMMAND run by that same shell (no second one). The release's environment
    /// reaches the app's own shell only: a name in it (`ID`, `PATH`) cannot change the script that
    /// starts the app.
    public static let runner = #"if [ -f "$1" ]; then set -a; . "$1"; set +a; fi; set --; eval "$0""#

    /// nil without `env:` or `secrets:`.
    public static func make(_ strategy: ReleaseStrategy, releaseID: String, environment: ReleaseEnvironment?)
        throws(ShipitError) -> ReleaseEnvFile?
    {
        guard let environment else { return nil }
        var engine: ScriptText = .empty
        if strategy.containerEnvFile {
            // A value an engine's env file cannot hold is refused before anything is written.
            _ = try environment.engineFile()
            // Names are checked identifiers: safe as words of the script. The file's paths are
            // positional parameters: a name in the environment (`ID`, `META`) cannot move them.
            let prints = environment.entries.map { "printf '%s=%s\\n' \($0.name) \"$\($0.name)\"" }
            let convert = "set -a; . \"$1\"; set +a; exec >\"$2\" || exit 1; " + prints.joined(separator: "; ")
            engine = ScriptText(
                """
                if ! (umask 077; sh -c \(ShellQuote.quote(convert)) sh "$META/env/$ID" "$META/env/$ID.engine.part") || ! mv -f "$META/env/$ID.engine.part" "$META/env/$ID.engine"; then
                  rm -f "$META/env/$ID.engine.part"; fail \(ScriptExit.fileNotPlaced) "cannot write $META/env/$ID.engine"
                fi
                """)
        }
        let contents = Data(environment.shellFile.utf8)
        // One script reads its stdin into the file: complete (its length checked, as a channel cut
        // short ends the input like a finished one), then renamed into place.
        let write = HostScript(
            .config, layout: strategy.layout, timeout: 60,
            variables: [("ID", releaseID), ("ENV_BYTES", String(contents.count))], uses: [.fail],
            """
            mkdir -p "$META/env" && chmod 700 "$META/env" || fail \(ScriptExit.notWritable) "cannot make $META/env"
            if ! (umask 077 && cat > "$META/env/$ID.part"); then
              rm -f "$META/env/$ID.part"; fail \(ScriptExit.fileNotPlaced) "cannot write $META/env/$ID (disk full?)"
            fi
            got=$(wc -c < "$META/env/$ID.part")
            if [ "$got" -ne "$ENV_BYTES" ]; then
              rm -f "$META/env/$ID.part"; fail \(ScriptExit.fileNotPlaced) "the release's environment arrived incomplete ($got of $ENV_BYTES bytes)"
            fi
            mv -f "$META/env/$ID.part" "$META/env/$ID" || fail \(ScriptExit.fileNotPlaced) "cannot write $META/env/$ID"
            """ + engine + "echo \"config=written\"")
        return ReleaseEnvFile(command: write.command, contents: contents)
    }
}
