import FoundationEssentials

/// What the symlink strategy runs on a host for long, and the environment it runs it with: the
/// start and stop commands, role processes, and the units a supervisor starts them from.
extension SymlinkStrategy {
    /// What runs on `host` for long, as the supervisor's units start it.
    func processes(on host: String) -> [Supervision.Process] {
        let env = startEnv(host: host)
        var list: [Supervision.Process] = []
        if roles.runsApp(host), let start {
            if let traffic {
                list.append(.slot(start: start, env: env))
                // The front door has a unit of its own, shared by the host's apps.
                if traffic.settings.mode == .managed, traffic.frontDoor == nil {
                    list.append(.proxy(nginx: traffic.settings.nginx))
                }
            } else {
                list.append(.app(start: start, env: env))
            }
        }
        return list + roles.processes(on: host).map { .role($0, env: env) }
    }

    /// The slot's unit restarted with the release `$ID` recorded for it (its launcher reads it).
    static let supervisedSlotStart: ScriptText = """
        printf '%s\\n' "$ID" > "$SLOTS/$SLOT.release"
        if ! unit_restart "$UNIT_PREFIX-slot@$SLOT.service"; then
          rm -f "$SLOTS/$SLOT.release"
          [ ! -s "$START_LOG" ] || tail -c 2000 "$START_LOG" >&2
          fail \(ScriptExit.startFailed) "start command failed under systemd ($UNIT_PREFIX-slot@$SLOT.service): $(short "$out" 300)"
        fi
        [ ! -s "$START_LOG" ] || tail -c 2000 "$START_LOG" >&2
        """

    /// Without the traffic switch: the app's unit restarted from `current`, and enabled.
    static let supervisedAppStart: ScriptText = """
        if ! unit_restart "$UNIT_PREFIX.service" enable; then
          [ ! -s "$START_LOG" ] || tail -c 2000 "$START_LOG" >&2
          fail \(ScriptExit.startFailed) "start command failed under systemd ($UNIT_PREFIX.service): $(short "$out" 300)"
        fi
        [ ! -s "$START_LOG" ] || tail -c 2000 "$START_LOG" >&2
        """

    /// The environment `start` runs with on `host`.
    public func startEnv(host: String) -> [(String, String)] {
        var env = [("SHIPIT_APP", app), ("SHIPIT_HOST", host)]
        // With the traffic switch, PORT is the slot's (set by the warm-up script) and the app binds
        // the slots' address; without it, the app is the public listener.
        if let h = health {
            env +=
                traffic == nil
                ? [("PORT", String(h.port)), ("SHIPIT_BIND", h.bindAddress(of: host))]
                : [("SHIPIT_BIND", h.slotAddress(of: host))]
        }
        return env
    }

    /// `start` in the release directory, its output in the start log (a daemon must not hold the
    /// channel), with the start environment.
    /// `command` names the variable holding the command (`$STOP` runs the same way).
    func startBody(host: String, command: String = "START") -> ScriptText {
        let (what, code) = command == "START" ? ("start", ScriptExit.startFailed) : ("stop", ScriptExit.stopFailed)
        return startExports(host: host)
            + """
            # shellcheck disable=SC2016 # expanded by the app's shell
            (cd "$RELEASES/$ID" && sh -c '\(ReleaseEnvFile.runner)' "$\(command)" "$META/env/$ID") </dev/null >"$START_LOG" 2>&1
            rc=$?
            # (a fork only when there is output)
            [ ! -s "$START_LOG" ] || tail -c 2000 "$START_LOG" >&2
            [ $rc -eq 0 ] || { echo "error=\(what) command exited $rc"; exit \(code); }
            """
    }

    /// The start environment as exports, with the release's own variables (`$ID`). The release's
    /// env file is read by the shell that runs the command (`ReleaseEnvFile.runner`).
    private func startExports(host: String) -> ScriptText {
        ScriptText(startEnv(host: host).map { "export \($0.0)=\(ShellQuote.quote($0.1))" }.joined(separator: "\n"))
            + """
            export SHIPIT_RELEASE="$ID" SHIPIT_DEPLOY_TO="$D" SHIPIT_RELEASE_PATH="$RELEASES/$ID"
            """
    }

    /// Release `$ID`'s environment file, exported, when it has one: last, right before an
    /// operator's command (`exec --release current`), which is all it can affect.
    static let sourceReleaseEnv: ScriptText = """
        if [ -f "$META/env/$ID" ]; then
          set -a
          # shellcheck source=/dev/null
          . "$META/env/$ID"
          set +a
        fi
        """

    /// `command` (rendered shell text) in the serving release's directory with the environment
    /// `start` gets: `shipit exec --release current`, a console or a one-off task as the app sees it.
    public func inCurrentRelease(host: String, command: String) -> String {
        let d = ShellQuote.quote(layout.deployTo)
        return """
            D=\(d); cd "$D/current" 2>/dev/null || { echo "no current release in $D" >&2; exit 1; }
            ID=$(pwd -P); ID=${ID##*/}; RELEASES="$D/releases"; META="$D/.shipit"
            \(startExports(host: host).rendered())
            \(Self.sourceReleaseEnv.rendered())
            \(command)
            """
    }

    /// The host's role processes (a worker…) restarted from release `$ID`, after its switch.
    func restartRoles(host: String) -> ScriptText {
        let procs = roles.processes(on: host)
        guard !procs.isEmpty else { return .empty }
        return startExports(host: host) + RoleScript.restart(procs)
    }

    /// The roles' smoke test on `host` (nil: it runs no role process).
    public func roleCheck(host: String, deadline: Double, interval: Double) -> RemoteCommand? {
        let procs = roles.processes(on: host)
        guard !procs.isEmpty else { return nil }
        // The status command sees what the process was started with (the release `current` is).
        return script(
            .roleCheck, [], uses: [RoleScript.check, RoleScript.processFind],
            "current_id; ID=$CUR; ID=${ID##*/}" + startExports(host: host)
                + RoleScript.checkCalls(procs, kind: "process", deadline: deadline, interval: interval))
    }
}
