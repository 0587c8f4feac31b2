/// The processes of a host's roles (`roles:`, e.g. a worker) as shell fragments the strategies put
/// into their switch, retreat and check scripts: no exec channel of their own. Each process runs in
/// its own session (so a stop reaches its children), its pid in `$META/roles/<name>.pid`.
public enum RoleScript {
    /// `role_stop NAME SIGNAL TENTHS`: the signal to the process group, up to TENTHS tenths of a
    /// second for it to exit (a job in flight finishes), then KILL. Prints `role.NAME.stopped=PID`
    /// and, when it had to, `role.NAME.killed=PID`.
    /// `role_start NAME COMMAND LOG`: the command from `$RELEASES/$ID`, in the background, in its
    /// own session, output appended to LOG; prints `role.NAME.started=ID` once its pid is written.
    static let functions = """
        role_pid() { p=; [ -f "$META/roles/$1.pid" ] && read -r p < "$META/roles/$1.pid"; printf '%s' "$p"; }
        # Whether any process of the role's process group runs: the command may be a child of the
        # session leader, and outlive it. A zombie (exited, not reaped yet: a container's init may
        # never) does not count. `kill -SIG -PGID`: the one group syntax dash and bash share.
        role_alive() {
          [ -n "$1" ] && kill -0 -"$1" 2>/dev/null || return 1
          [ -d /proc/self ] || return 0
          g=$1
          for f in /proc/[0-9]*/stat; do
            st=; read -r st < "$f" 2>/dev/null || continue
            set -- ${st##*) }
            [ "${3:-}" = "$g" ] && [ "$1" != Z ] && return 0
          done
          return 1
        }
        role_stop() {
          pid=$(role_pid "$1")
          if role_alive "$pid"; then
            kill -"$2" -"$pid" 2>/dev/null || kill -"$2" "$pid" 2>/dev/null
            n=0
            while role_alive "$pid" && [ "$n" -lt "$3" ]; do sleep 0.1; n=$((n + 1)); done
            if role_alive "$pid"; then
              kill -KILL -"$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null
              echo "role.$1.killed=$pid"
              n=0; while role_alive "$pid" && [ "$n" -lt 50 ]; do sleep 0.1; n=$((n + 1)); done
            fi
            echo "role.$1.stopped=$pid"
          fi
          rm -f "$META/roles/$1.pid"
        }
        role_start() {
          mkdir -p "$META/roles" "${3%/*}" || fail 34 "role $1: cannot create $META/roles or ${3%/*}"
          pf="$META/roles/$1.pid"; rm -f "$pf"
          # The session leader writes its own pid, then becomes the command: pid = process group.
          ( cd "$RELEASES/$ID" && SHIPIT_ROLE=$1 SHIPIT_PIDFILE=$pf exec setsid sh -c 'echo $$ > "$SHIPIT_PIDFILE"; exec sh -c "$0"' "$2" ) </dev/null >>"$3" 2>&1 &
          n=0; while [ ! -s "$pf" ] && [ "$n" -lt 100 ]; do sleep 0.05; n=$((n + 1)); done
          [ -s "$pf" ] || fail 34 "role $1: its process did not start (see $3)"
          echo "role.$1.started=$ID"
        }
        """

    /// Stops each of `roles`, then starts it from release `$ID` (the variables and exports of a
    /// start must be set before).
    static func restart(_ roles: [ProcessRole]) -> String {
        roles.map {
            "role_stop \(q($0.name)) \($0.stopSignal) \(tenths($0.stopTimeout)); role_start \(q($0.name)) \(q($0.command)) \(q($0.log))"
        }
        .joined(separator: "\n")
    }

    /// Stops each of `roles` (a retreat: no release to go back to).
    static func stop(_ roles: [ProcessRole]) -> String {
        roles.map { "role_stop \(q($0.name)) \($0.stopSignal) \(tenths($0.stopTimeout))" }.joined(separator: "\n")
    }

    /// The roles' smoke test on one host, in `current`: each process still running and its
    /// `status` command passing, retried every `interval` until `deadline` seconds have passed
    /// (without a status command: still running after `settle`). Prints `role.NAME.ok=PID` or
    /// fails naming the role, with the status command's output or the end of the role's log.
    static func check(_ roles: [ProcessRole], deadline: Double, interval: Double) -> String {
        checkLoop(
            roles, deadline: deadline, interval: interval,
            find: """
                pid=$(role_pid "$name"); id=$pid
                role_alive "$pid" || fail 35 "role $name: its process is not running: $(short "$(tail -c 400 "$log" 2>/dev/null)")"
                """,
            runStatus: """
                (cd "$CURRENT" && SHIPIT_ROLE=$name SHIPIT_PID=$pid SHIPIT_PIDFILE="$META/roles/$name.pid" sh -c "$status" 2>&1 </dev/null)
                """)
    }

    /// `role_check NAME STATUS SETTLE_TENTHS LOG`, retried every `interval` until `deadline`: `find`
    /// sets `$id` (what `role.NAME.ok=` reports) or fails when the process is gone; `runStatus`
    /// runs the status command (`$status`).
    static func checkLoop(_ roles: [ProcessRole], deadline: Double, interval: Double, find: String, runStatus: String)
        -> String
    {
        let fn = """
            role_check() {
              name=$1; status=$2; settle=$3; log=$4; t=0
              while :; do
                \(find.replacing("\n", with: "\n    "))
                if [ -z "$status" ]; then
                  # A snapshot (no deadline) does not wait for the settle time.
                  if [ "$t" -ge "$settle" ] || [ "$DEADLINE" -eq 0 ]; then echo "role.$name.ok=$id"; return 0; fi
                  sleep 0.1; t=$((t + 1)); continue
                fi
                # The space after "$(": a status run in a subshell must not read as "$((" arithmetic.
                out=$( \(runStatus) ) && { echo "role.$name.ok=$id"; echo "role.$name.said=$(short "$out")"; return 0; }
                rc=$?
                [ "$t" -lt "$DEADLINE" ] || fail 35 "role $name: status exited $rc: $(short "$out")"
                sleep "$INTERVAL"; t=$((t + STEP))
              done
            }
            """
        let step = max(1, tenths(interval))
        let calls = roles.map { "role_check \(q($0.name)) \(q($0.status ?? "")) \(tenths($0.settle)) \(q($0.log))" }
            .joined(separator: "\n")
        return "DEADLINE=\(tenths(deadline)); INTERVAL=\(Double(step) / 10); STEP=\(step)\n" + fn + "\n" + calls
    }

    static func tenths(_ seconds: Double) -> Int { Int((seconds * 10).rounded()) }
    static func q(_ s: String) -> String { ShellQuote.quote(s) }
}

/// The image strategy's role processes: one container per role, `<app>-<role>`, from the release's
/// image with the role's command (`sh -c`), created with the role's stop signal and timeout so the
/// engine's own `stop` is graceful then KILLs. `$REF` and `$ID` must be set; `eng` is the engine.
extension RoleScript {
    /// `crole_restart NAME SIGNAL SECONDS COMMAND` and `crole_stop NAME SECONDS`.
    /// `runArgs`: the role containers' environment, env file and volumes, quoted.
    static func containerFunctions(runArgs: String) -> String {
        """
        crole_stop() {
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
        crole_restart() {
          crole_stop "$1" "$3"
          out=$(eng run -d --name "$APP-$1" --label "shipit.app=$APP" --label "shipit.role=$1" --label "shipit.release=$ID" --stop-signal "$2" --stop-timeout "$3" \(runArgs) "$REF" sh -c "$4" 2>&1) || fail 34 "role $1: its container did not start: $(short "$out")"
          echo "role.$1.started=$ID"
        }
        """
    }

    static func containerRestart(_ roles: [ProcessRole]) -> String {
        roles.map { "crole_restart \(q($0.name)) \($0.stopSignal) \(seconds($0.stopTimeout)) \(q($0.command))" }.joined(
            separator: "\n")
    }

    static func containerStop(_ roles: [ProcessRole]) -> String {
        roles.map { "crole_stop \(q($0.name)) \(seconds($0.stopTimeout))" }.joined(separator: "\n")
    }

    /// As `check`, with the container running instead of a process group, and the status command
    /// run inside it (`exec`).
    static func containerCheck(_ roles: [ProcessRole], deadline: Double, interval: Double) -> String {
        checkLoop(
            roles, deadline: deadline, interval: interval,
            find: """
                id="$APP-$name"
                [ "$(eng container inspect --format '{{.State.Running}}' "$id" 2>/dev/null)" = true ] || fail 35 "role $name: its container is not running: $(short "$(eng logs --tail 5 "$id" 2>&1)")"
                """,
            runStatus: """
                eng exec "$id" sh -c "$status" 2>&1 </dev/null
                """)
    }

    /// Whole seconds, at least 1 when the timeout is not 0 (what `--stop-timeout` takes).
    static func seconds(_ s: Double) -> Int { s <= 0 ? 0 : max(1, Int(s.rounded(.up))) }
}
