/// The processes of a host's roles (`roles:`, e.g. a worker) as shell functions and calls the
/// strategies put into their switch, retreat and check scripts: no exec channel of their own. Each
/// process runs in its own session (so a stop reaches its children), its pid in
/// `$META/roles/<name>.pid`.
public enum RoleScript {
    static let pid = ShellFunction(
        "role_pid",
        """
        role_pid() { p=; [ -f "$META/roles/$1.pid" ] && read -r p < "$META/roles/$1.pid"; printf '%s' "$p"; }
        """)

    /// Whether any process of the role's process group runs: the command may be a child of the
    /// session leader, and outlive it. A zombie (exited, not reaped yet: a container's init may
    /// never) does not count. `kill -SIG -PGID`: the one group syntax dash and bash share.
    static let alive = ShellFunction(
        "role_alive",
        """
        role_alive() {
          [ -n "$1" ] && kill -0 -"$1" 2>/dev/null || return 1
          [ -d /proc/self ] || return 0
          g=$1
          # The leader first: while it runs, no other process of the host is read (a pid is not
          # reused while its process group lives, so that pid is the leader). Braced: a
          # redirection that cannot open its file complains before `2>` applies.
          for f in "/proc/$g/stat" /proc/[0-9]*/stat; do
            st=; { read -r st < "$f"; } 2>/dev/null || continue
            # shellcheck disable=SC2086 # the fields of /proc/PID/stat after the command name
            set -- ${st##*) }
            [ "${3:-}" = "$g" ] && [ "$1" != Z ] && return 0
          done
          return 1
        }
        """)

    /// `role_stop NAME SIGNAL TENTHS`: the signal to the process group, up to TENTHS tenths of a
    /// second for it to exit (a job in flight finishes), then KILL. Prints `role.NAME.stopped=PID`
    /// and, when it had to, `role.NAME.killed=PID`.
    static let stop = ShellFunction(
        "role_stop", requires: [pid, alive, Supervision.supervised, Supervision.svctl],
        """
        role_stop() {
          pid=$(role_pid "$1")
          if supervised; then
            # Its unit: the unit's stop signal, KILL after its timeout (what systemd calls a timeout).
            u="$UNIT_PREFIX-role-$1.service"
            if svctl -q is-active "$u" 2>/dev/null; then
              svctl stop "$u" >/dev/null 2>&1
              [ "$(svctl show -p Result --value "$u" 2>/dev/null)" != timeout ] || echo "role.$1.killed=$pid"
              echo "role.$1.stopped=$pid"
            fi
            svctl disable -q "$u" >/dev/null 2>&1
          fi
          # A process started before the host had a supervisor (a unit's is gone by now).
          if role_alive "$pid"; then
            kill -"$2" -"$pid" 2>/dev/null || kill -"$2" "$pid" 2>/dev/null
            # Milliseconds: looked at every 2 ms for the first 20, every 10 ms up to 0.2 s (a
            # worker with nothing in flight is gone at once, and a restart waits for it), then
            # every 0.1 s.
            n=0; limit=$(($3 * 100))
            while role_alive "$pid" && [ "$n" -lt "$limit" ]; do
              if [ "$n" -lt 20 ]; then sleep 0.002; n=$((n + 2)); elif [ "$n" -lt 200 ]; then sleep 0.01; n=$((n + 10)); else sleep 0.1; n=$((n + 100)); fi
            done
            if role_alive "$pid"; then
              kill -KILL -"$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null
              echo "role.$1.killed=$pid"
              n=0; while role_alive "$pid" && [ "$n" -lt 50 ]; do sleep 0.1; n=$((n + 1)); done
            fi
            echo "role.$1.stopped=$pid"
          fi
          rm -f "$META/roles/$1.pid"
        }
        """)

    /// `role_start NAME COMMAND LOG`: the command from `$RELEASES/$ID`, in the background, in its
    /// own session, output appended to LOG; prints `role.NAME.started=ID` once its pid is written.
    static let start = ShellFunction(
        "role_start", requires: [.fail, .short, Supervision.supervised, Supervision.unitRestart],
        """
        role_start() {
          mkdir -p "$META/roles" "${3%/*}" || fail \(ScriptExit.roleStartFailed) "role $1: cannot create $META/roles or ${3%/*}"
          pf="$META/roles/$1.pid"; rm -f "$pf"
          if supervised; then
            # Its unit runs the launcher the pre-flight wrote (the same command, from current).
            unit_restart "$UNIT_PREFIX-role-$1.service" enable || fail \(ScriptExit.roleStartFailed) "role $1: systemd did not start $UNIT_PREFIX-role-$1.service: $(short "$out")"
          else
            # The session leader writes its own pid, then becomes the command: pid = process group.
            # shellcheck disable=SC2016 # expanded by the session leader's shell
            ( cd "$RELEASES/$ID" && SHIPIT_ROLE=$1 SHIPIT_PIDFILE=$pf exec setsid sh -c 'echo $$ > "$SHIPIT_PIDFILE"; \(ReleaseEnvFile.runner)' "$2" "$META/env/$ID" ) </dev/null >>"$3" 2>&1 &
          fi
          # Milliseconds, up to 5 s: every 2 ms for the first 20 (its shell writes the pid at
          # once), every 10 ms up to 0.2 s, then every 0.05 s.
          n=0; while [ ! -s "$pf" ] && [ "$n" -lt 5000 ]; do
            if [ "$n" -lt 20 ]; then sleep 0.002; n=$((n + 2)); elif [ "$n" -lt 200 ]; then sleep 0.01; n=$((n + 10)); else sleep 0.05; n=$((n + 50)); fi
          done
          [ -s "$pf" ] || fail \(ScriptExit.roleStartFailed) "role $1: its process did not start (see $3)"
          echo "role.$1.started=$ID"
        }
        """)

    /// `process_role_find NAME LOG` sets `$id` (what `role.NAME.ok=` reports) to the process
    /// group, or fails when it is gone; `process_role_status NAME STATUS PID` runs the status
    /// command in `current`, as the process sees it.
    static let processFind = ShellFunction(
        "process_role_find", requires: [pid, alive, .fail, .short],
        """
        process_role_find() {
          pid=$(role_pid "$1"); id=$pid
          role_alive "$pid" || fail \(ScriptExit.roleCheckFailed) "role $1: its process is not running: $(short "$(tail -c 400 "$2" 2>/dev/null)")"
        }
        process_role_status() {
          # shellcheck disable=SC2016 # expanded by the status command's shell
          (cd "$CURRENT" && SHIPIT_ROLE=$1 SHIPIT_PID=$3 SHIPIT_PIDFILE="$META/roles/$1.pid" sh -c '\(ReleaseEnvFile.runner)' "$2" "$META/env/${ID:-}" 2>&1 </dev/null)
        }
        """)

    /// The same for a role's container (`<app>-<role>`): running, and its status command run
    /// inside it.
    static let containerFind = ShellFunction(
        "container_role_find", requires: [.engine, .fail, .short],
        """
        container_role_find() {
          id="$APP-$1"
          [ "$(eng container inspect --format '{{.State.Running}}' "$id" 2>/dev/null)" = true ] || fail \(ScriptExit.roleCheckFailed) "role $1: its container is not running: $(short "$(eng logs --tail 5 "$id" 2>&1)")"
        }
        container_role_status() { eng exec "$APP-$1" sh -c "$2" 2>&1 </dev/null; }
        """)

    /// `role_check KIND NAME STATUS SETTLE_TENTHS LOG` (KIND: `process` or `container`), retried
    /// every `$INTERVAL` (a process: every 0.02 s for the first 0.2 s) until `$DEADLINE` tenths of
    /// a second: the role's process found (else it fails), then its status command passing, or
    /// without one still running after SETTLE.
    static let check = ShellFunction(
        "role_check", requires: [.fail, .short],
        """
        role_check() {
          kind=$1; name=$2; status=$3; settle=$4; log=$5; t=0; h=0
          while :; do
            "${kind}_role_find" "$name" "$log"
            if [ -z "$status" ]; then
              # A snapshot (no deadline) does not wait for the settle time.
              if [ "$t" -ge "$settle" ] || [ "$DEADLINE" -eq 0 ]; then echo "role.$name.ok=$id"; return 0; fi
              sleep 0.1; t=$((t + 1)); continue
            fi
            out=$("${kind}_role_status" "$name" "$status" "$id") && { echo "role.$name.ok=$id"; echo "role.$name.said=$(short "$out")"; return 0; }
            rc=$?
            [ "$h" -lt $((DEADLINE * 10)) ] || fail \(ScriptExit.roleCheckFailed) "role $name: status exited $rc: $(short "$out")"
            # Hundredths. A process started a moment ago (the check right after a restart) may
            # not have reported yet: asked again every 0.02 s for the first 0.2 s (a container's
            # status, an `exec` that costs more than that, at the usual interval).
            if [ "$kind" = process ] && [ "$h" -lt 20 ]; then sleep 0.02; h=$((h + 2)); else sleep "$INTERVAL"; h=$((h + STEP * 10)); fi
          done
        }
        """)

    static let processFunctions = [stop, start]

    /// Stops each of `roles`, then starts it from release `$ID` (the variables and exports of a
    /// start must be set before).
    static func restart(_ roles: [ProcessRole]) -> ScriptText {
        ScriptText(
            roles.map {
                "role_stop \(q($0.name)) \($0.stopSignal) \(tenths($0.stopTimeout)); role_start \(q($0.name)) \(q($0.command)) \(q($0.log))"
            }
            .joined(separator: "\n"))
    }

    /// Stops each of `roles` (a retreat: no release to go back to).
    static func stop(_ roles: [ProcessRole]) -> ScriptText {
        ScriptText(
            roles.map { "role_stop \(q($0.name)) \($0.stopSignal) \(tenths($0.stopTimeout))" }.joined(separator: "\n"))
    }

    /// The roles' smoke test on one host, in `current`: each process still running and its
    /// `status` command passing, retried every `interval` until `deadline` seconds have passed
    /// (without a status command: still running after `settle`). Prints `role.NAME.ok=PID` or
    /// fails naming the role, with the status command's output or the end of the role's log.
    /// `kind`: `process` (symlink) or `container` (image).
    static func checkCalls(_ roles: [ProcessRole], kind: String, deadline: Double, interval: Double) -> ScriptText {
        let step = max(1, tenths(interval))
        let calls = roles.map {
            "role_check \(kind) \(q($0.name)) \(q($0.status ?? "")) \(tenths($0.settle)) \(q($0.log))"
        }
        return ScriptText(
            (["DEADLINE=\(tenths(deadline)); INTERVAL=\(Double(step) / 10); STEP=\(step)"] + calls)
                .joined(separator: "\n"))
    }

    static func tenths(_ seconds: Double) -> Int { Int((seconds * 10).rounded()) }
    static func q(_ s: String) -> String { ShellQuote.quote(s) }
}

/// The image strategy's role processes: one container per role, `<app>-<role>`, from the release's
/// image with the role's command (`sh -c`), created with the role's stop signal and timeout so the
/// engine's own `stop` is graceful then KILLs. `$REF` and `$ID` must be set; `eng` is the engine.
extension RoleScript {
    /// `container_role_stop NAME SECONDS`.
    static let containerStop = ShellFunction(
        "container_role_stop", requires: [.engine],
        """
        container_role_stop() {
          c="$APP-$1"
          eng container inspect "$c" >/dev/null 2>&1 || return 0
          if [ "$(eng container inspect --format '{{.State.Running}}' "$c" 2>/dev/null)" = true ]; then
            eng stop -t "$2" "$c" >/dev/null 2>&1 || true
            # 137: 128 + KILL, what the engine sends after the stop timeout.
            [ "$(eng container inspect --format '{{.State.ExitCode}}' "$c" 2>/dev/null)" != 137 ] || echo "role.$1.killed=$c"
            echo "role.$1.stopped=$c"
          fi
          eng rm -f "$c" >/dev/null 2>&1 || true
        }
        """)

    /// `container_role_restart NAME SIGNAL SECONDS COMMAND`; the containers' environment, env
    /// file and volumes are in `$ROLE_RUN_ARGS` (words, each quoted).
    static let containerRestart = ShellFunction(
        "container_role_restart", requires: [containerStop, .engine, .fail, .short],
        """
        container_role_restart() {
          container_role_stop "$1" "$3"
          # The release's environment file, when it has one.
          \(ImageStrategy.releaseEnvArgument)
          out=$(eval "eng run -d --name \\"\\$APP-\\$1\\" --label \\"shipit.app=\\$APP\\" --label \\"shipit.role=\\$1\\" --label \\"shipit.release=\\$ID\\" --stop-signal \\"\\$2\\" --stop-timeout \\"\\$3\\" \\${RELEASE_ENV_FILE:+\\"\\$RELEASE_ENV_FILE\\"} $ROLE_RUN_ARGS \\"\\$REF\\" sh -c \\"\\$4\\"" 2>&1) || fail \(ScriptExit.roleStartFailed) "role $1: its container did not start: $(short "$out")"
          echo "role.$1.started=$ID"
        }
        """)

    static func containerRestart(_ roles: [ProcessRole]) -> ScriptText {
        ScriptText(
            roles.map {
                "container_role_restart \(q($0.name)) \($0.stopSignal) \(seconds($0.stopTimeout)) \(q($0.command))"
            }
            .joined(separator: "\n"))
    }

    static func containerStop(_ roles: [ProcessRole]) -> ScriptText {
        ScriptText(
            roles.map { "container_role_stop \(q($0.name)) \(seconds($0.stopTimeout))" }.joined(separator: "\n"))
    }

    /// Whole seconds, at least 1 when the timeout is not 0 (what `--stop-timeout` takes).
    static func seconds(_ s: Double) -> Int { s <= 0 ? 0 : max(1, Int(s.rounded(.up))) }
}
