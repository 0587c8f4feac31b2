import FoundationEssentials

/// The host side of `shipit logs`, one script per host: the configured source's lines, kept when
/// they fall in the time window (ISO-8601 UTC times at the start of a line; a line without one
/// belongs to the line before it) and match the pattern, the newest `maxBytes` of them. Notes for
/// the operator (a missing file, a file read only in part) go to stderr as `note=` lines.
public struct LogScript: Sendable {
    public private(set) var settings: LogSettings
    public let layout: HostLayout
    public let app: String
    /// The image engine command (`podman …`), for the container source.
    public let engine: [String]

    /// At most this much of each log file is read (its end): a 10 GB log must not cost minutes.
    public static let scanLimit = 64 << 20

    public init(config: DeployConfig) {
        settings = config.logs
        layout = config.layout
        app = config.app
        engine = config.image?.engine ?? ["podman"]
    }

    /// The same, reading another source (a role process's log file).
    public func reading(_ source: LogSettings.Source) -> LogScript {
        var s = self
        s.settings.source = source
        return s
    }

    /// The window's ends as the awk filter compares them: `YYYY-MM-DDTHH:MM:SS`, UTC.
    static func stamp(_ date: Date?) -> String { date.map { String(UTCTime.iso($0).prefix(19)) } ?? "" }

    var sourceVariables: [(String, String)] {
        switch settings.source {
        case .file(let path): return [("SRC", "file"), ("LOGPATH", path)]
        case .command(let cmd): return [("SRC", "command"), ("LOGCMD", cmd)]
        case .container:
            return [("SRC", "container"), ("APP", app), ("CNAME", ""), ShellFunction.engineVariable(engine)]
        case .namedContainer(let name):
            return [("SRC", "container"), ("APP", app), ("CNAME", name), ShellFunction.engineVariable(engine)]
        }
    }

    /// `log_container`: the lines of the container serving traffic.
    static let container = ShellFunction(
        "log_container", requires: [.engine],
        """
        log_container() {
          # The container serving traffic: the active slot's with the traffic switch, else the current one.
          c=$CNAME
          if [ -z "$c" ] && [ -f "$SLOTS/active" ]; then read -r a < "$SLOTS/active"; [ -f "$SLOTS/$a.container" ] && read -r c < "$SLOTS/$a.container"; fi
          if [ -z "$c" ] && [ -f "$IMAGE_CURRENT" ]; then read -r cur < "$IMAGE_CURRENT"; c="$APP-$cur"; fi
          [ -n "$c" ] || { echo "note=no container runs this app here" >&2; return 0; }
          if [ -n "$FOLLOW" ]; then eng logs --timestamps --follow --since 1s "$c" 2>&1
          else eng logs --timestamps ${SINCE:+--since "${SINCE}Z"} "$c" 2>&1 | tail -c "$SCAN"; fi
        }
        """)

    /// `log_lines`: lines of the source on stdout; `FOLLOW` set: only new ones, as they come.
    static let lines = ShellFunction(
        "log_lines", requires: [container],
        """
        log_lines() {
          case "$SRC" in
            file)
              found=
              for f in $LOGPATH; do
                [ -f "$f" ] || continue
                found=1
                if [ -n "$FOLLOW" ]; then continue; fi
                size=$(wc -c < "$f")
                [ "$size" -gt "$SCAN" ] && echo "note=$f is $size bytes: only its last $SCAN were read" >&2
                tail -c "$SCAN" "$f"
              done
              [ -n "$found" ] || echo "note=no log file at $LOGPATH" >&2
              if [ -n "$FOLLOW" ] && [ -n "$found" ]; then tail -n 0 -F $LOGPATH 2>/dev/null; fi
              ;;
            command) SHIPIT_SINCE="${SINCE:+${SINCE}Z}" SHIPIT_UNTIL="${UNTIL:+${UNTIL}Z}" sh -c "$LOGCMD" 2>&1 | tail -c "$SCAN" ;;
            container) log_container ;;
          esac
        }
        """)

    /// The lines of the window, filtered and bounded.
    public func fetch(since: Date?, until: Date?, grep: String?, maxBytes: Int? = nil) -> RemoteCommand {
        let vars =
            sourceVariables + [
                ("SINCE", Self.stamp(since)), ("UNTIL", Self.stamp(until)), ("RE", grep ?? ""),
                ("MAX", String((maxBytes ?? settings.maxBytes) + 1)), ("SCAN", String(Self.scanLimit)), ("FOLLOW", ""),
            ]
        return HostScript(
            .logs, layout: layout, timeout: 60, variables: vars, uses: [.fail, Self.lines],
            """
            if [ -n "$RE" ]; then echo x | grep -E -e "$RE" >/dev/null 2>&1; [ $? -ne 2 ] || fail \(ScriptExit.usage) "not a valid extended regular expression: $RE"; fi
            log_lines | awk -v since="$SINCE" -v until="$UNTIL" '
              { t = ""
                if ($0 ~ /^[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9][T ][0-9][0-9]:[0-9][0-9]:[0-9][0-9]/) { t = substr($0, 1, 19); sub(/ /, "T", t); last = t }
                k = (t != "" ? t : last)
                if (since != "" && k != "" && k < since) next
                if (until != "" && k != "" && k >= until) next
                print }' | { if [ -n "$RE" ]; then grep -E -e "$RE"; else cat; fi; } | tail -c "$MAX"
            true
            """
        ).command
    }

    /// New lines as they come, until the deployer closes stdin; then the whole process group goes.
    public func follow(grep: String?) -> RemoteCommand { Self.follow([self], grep: grep) }

    /// The same for several sources of one host (the app's, a worker's), one reader each.
    public static func follow(_ sources: [LogScript], grep: String?) -> RemoteCommand {
        let vars = [
            ("SINCE", ""), ("UNTIL", ""), ("RE", grep ?? ""), ("MAX", "0"), ("SCAN", String(scanLimit)),
            ("FOLLOW", "1"),
        ]
        let readers = sources.map { s in
            ScriptText.block(
                "(",
                ScriptText(
                    s.sourceVariables.map { HostScript.assignment(.init(name: $0.0, value: $0.1)) }.joined(
                        separator: "\n"))
                    + "log_lines | if [ -n \"$RE\" ]; then grep --line-buffered -E -e \"$RE\"; else cat; fi",
                ") &")
        }
        return HostScript(
            .logs, layout: sources[0].layout, timeout: nil, variables: vars, uses: [lines],
            ScriptText.lines(readers)
                + """
                # sshd made this shell a session leader: `kill 0` ends the readers and everything they started.
                read -r _ || true
                kill 0
                """
        ).command
    }
}
