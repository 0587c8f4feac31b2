/// systemd supervision of what shipit starts on a host (docs/supervision.md): each traffic slot,
/// the managed proxy, each role process and, without the traffic switch, the app are units, so a
/// crash restarts them and a boot brings back what serves. Each unit runs a launcher that shipit
/// writes under `.shipit/units`; the launchers keep today's contract (`start` daemonizes and
/// writes `$SHIPIT_PIDFILE`), so the same release runs supervised or not.
///
/// The pre-flight decides per host (`supervisor: auto` falls back to none where systemd, the
/// deploy user's manager or its lingering is missing), installs the units, and records the
/// decision in `.shipit/supervisor`; every later script asks `supervised`.
public struct Supervision: Sendable {
    public let settings: SupervisorSettings
    /// `shipit-<app>`: every unit's name starts with it.
    public let prefix: String
    let layout: HostLayout

    public init(settings: SupervisorSettings, app: String, layout: HostLayout) {
        self.settings = settings
        self.prefix = "shipit-" + app
        self.layout = layout
    }

    /// One long-running process, as shipit starts it.
    enum Process {
        /// The two traffic slots: one template unit, the instance is the port. The launcher
        /// starts the release recorded in `.shipit/slots/<port>.release`.
        case slot(start: String, env: [(String, String)])
        /// The managed nginx.
        case proxy(nginx: String)
        /// A role's process (a worker), from `current`.
        case role(ProcessRole, env: [(String, String)])
        /// The app without the traffic switch, from `current`, its pid in `shared/app.pid`.
        case app(start: String, env: [(String, String)])
        /// The image strategy's containers that serve, started once at boot (the engine restarts
        /// a crashed one): the active slot's or the current release's, the role containers
        /// (`<app>-<role>`), and the managed proxy (`nginx`, with the traffic switch).
        case containers(engine: [String], roles: [String], nginx: String?)
    }

    public func slotUnit(_ port: Int) -> String { "\(prefix)-slot@\(port).service" }
    public var proxyUnit: String { prefix + "-proxy.service" }
    public func roleUnit(_ name: String) -> String { "\(prefix)-role-\(name).service" }
    public var appUnit: String { prefix + ".service" }
    public var containersUnit: String { prefix + "-containers.service" }

    /// What every script that starts, stops or enables a unit reads.
    var variables: [(String, String)] {
        [
            ("SUPERVISOR", settings.mode.rawValue), ("UNIT_SCOPE", settings.units.rawValue),
            ("UNIT_SUDO", settings.sudo.joined(separator: " ")), ("UNIT_PREFIX", prefix), ("UNITS", layout.units),
        ]
    }

    // MARK: files

    /// The unit files and their launchers for `processes`, as (file name, text): a name ending in
    /// `.start` is a launcher (under `.shipit/units`), the others unit files.
    func files(_ processes: [Process]) -> [(name: String, text: String)] {
        processes.flatMap { p -> [(name: String, text: String)] in
            let (unit, launcher, service) = parts(p)
            return [(launcher.name, launcher.text), (unit, unitFile(service))]
        }
    }

    private struct Service {
        var what: String
        var type = "forking"
        var remainAfterExit = false
        var pidFile: String?
        var execStart: String
        var stopTimeout: Double = 10
        var killSignal = "SIGTERM"
    }

    private func parts(_ p: Process) -> (unit: String, launcher: (name: String, text: String), Service) {
        let l = layout
        let units = l.units
        switch p {
        case .slot(let start, let env):
            let text =
                launcherHeader("the release recorded for slot $1", unit: "\(prefix)-slot@<port>.service") + """
                    SLOTS=\(q(l.slots)); RELEASES=\(q(l.releases))
                    ID=; [ -n "$1" ] && [ -f "$SLOTS/$1.release" ] && read -r ID < "$SLOTS/$1.release"
                    [ -n "$ID" ] && [ -d "$RELEASES/$ID" ] || { echo "slot $1: no release to start (see $SLOTS/$1.release)" >&2; exit 1; }
                    \(releaseEnv())
                    \(exports(env))
                    export SHIPIT_RELEASE="$ID" SHIPIT_DEPLOY_TO=\(q(l.deployTo)) SHIPIT_RELEASE_PATH="$RELEASES/$ID"
                    export PORT="$1" SHIPIT_SLOT="$1" SHIPIT_PIDFILE="$SLOTS/$1.pid"
                    # systemd stopped whatever this unit ran before: a pid left in the file is stale.
                    rm -f "$SHIPIT_PIDFILE"
                    cd "$RELEASES/$ID" || exit 1
                    exec sh -c \(q(ReleaseEnvFile.runner)) \(q(start)) "$E" </dev/null >\(q(l.startLog)) 2>&1
                    """
            return (
                "\(prefix)-slot@.service", ("slot.start", text),
                Service(
                    what: "slot %i", pidFile: l.slots + "/%i.pid", execStart: "/bin/sh \(units)/slot.start %i")
            )
        case .proxy(let nginx):
            let text =
                launcherHeader("the managed proxy (nginx)", unit: proxyUnit) + """
                    PROXY=\(q(l.proxy))
                    \(nginxStart(nginx, "exec ", ""))
                    """
            return (
                proxyUnit, ("proxy.start", text),
                Service(what: "proxy", pidFile: l.proxy + "/nginx.pid", execStart: "/bin/sh \(units)/proxy.start")
            )
        case .role(let role, let env):
            let pidFile = l.meta + "/roles/" + role.name + ".pid"
            let logDir = role.log.split(separator: "/", omittingEmptySubsequences: false).dropLast().joined(
                separator: "/")
            let text =
                launcherHeader("role \(role.name), from the release current names", unit: roleUnit(role.name))
                    + """
                    cd -P \(q(l.current)) 2>/dev/null || { echo "role \(role.name): no current release in \(l.deployTo)" >&2; exit 1; }
                    ID=${PWD##*/}
                    \(releaseEnv())
                    \(exports(env))
                    export SHIPIT_RELEASE="$ID" SHIPIT_DEPLOY_TO=\(q(l.deployTo)) SHIPIT_RELEASE_PATH="$PWD"
                    export SHIPIT_ROLE=\(q(role.name)) SHIPIT_PIDFILE=\(q(pidFile))
                    mkdir -p \(q(l.meta + "/roles"))\(logDir.isEmpty ? "" : " " + q(logDir))
                    # This shell is the unit's main process, and its pid the process group a stop signals.
                    echo $$ > "$SHIPIT_PIDFILE"
                    stopping=
                    trap 'stopping=1' TERM INT \(role.stopSignal)
                    sh -c \(q(ReleaseEnvFile.runner)) \(q(role.command)) "$E" </dev/null >>\(q(role.log)) 2>&1 &
                    wait $!; rc=$?
                    crashed=
                    if [ -z "$stopping" ]; then
                      # Ended by itself: its status is the unit's (a failure restarts it). What it left
                      # behind in its group is stopped first (this shell ignores the signal: the trap).
                      crashed=1
                      kill -TERM 0 2>/dev/null
                    fi
                    # This shell stays until the last process of its group has exited (on a stop, a job in
                    # flight finishes), so systemd sees the unit end when the main process does. Where the
                    # unit's cgroup cannot report becoming empty (cgroup v1 in a container), systemd would
                    # otherwise wait for the stop timeout. After a crash, for 10 s at most.
                    n=0
                    while [ -z "$crashed" ] || [ "$n" -lt 100 ]; do
                      n=$((n + 1))
                      others=
                      for f in /proc/[0-9]*/stat; do
                        [ "$f" != "/proc/$$/stat" ] || continue
                        st=; read -r st < "$f" 2>/dev/null || continue
                        # shellcheck disable=SC2086 # the fields after the command name
                        set -- ${st##*) }
                        [ "${3:-}" = "$$" ] && [ "$1" != Z ] && { others=1; break; }
                      done
                      [ -n "$others" ] || break
                      sleep 0.1
                    done
                    [ -z "$crashed" ] || exit "$rc"
                    exit 0
                    """
            return (
                roleUnit(role.name), ("role-\(role.name).start", text),
                Service(
                    what: "role \(role.name)", type: "simple", execStart: "/bin/sh \(units)/role-\(role.name).start",
                    stopTimeout: role.stopTimeout, killSignal: "SIG" + role.stopSignal)
            )
        case .app(let start, let env):
            let pidFile = l.shared + "/app.pid"
            let text =
                launcherHeader("the app, from the release current names", unit: appUnit) + """
                    cd -P \(q(l.current)) 2>/dev/null || { echo "no current release in \(l.deployTo)" >&2; exit 1; }
                    ID=${PWD##*/}
                    \(releaseEnv())
                    \(exports(env))
                    export SHIPIT_RELEASE="$ID" SHIPIT_DEPLOY_TO=\(q(l.deployTo)) SHIPIT_RELEASE_PATH="$PWD"
                    export SHIPIT_PIDFILE=\(q(pidFile))
                    # systemd stopped what this unit ran before. A process the pid file still names was
                    # started without the unit (before the host had a supervisor) and holds the port:
                    # TERM, KILL after 10 s. A pid file older than this boot names some other process.
                    bt=$(sed -n 's/^btime //p' /proc/stat)
                    if [ -f "$SHIPIT_PIDFILE" ] && [ -n "$bt" ] && [ "$(stat -c %Y "$SHIPIT_PIDFILE")" -ge "$bt" ]; then
                      read -r old < "$SHIPIT_PIDFILE"
                      if [ -n "$old" ] && kill -TERM "$old" 2>/dev/null; then
                        i=0; while kill -0 "$old" 2>/dev/null && [ "$i" -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
                        kill -KILL "$old" 2>/dev/null
                      fi
                    fi
                    rm -f "$SHIPIT_PIDFILE"
                    exec sh -c \(q(ReleaseEnvFile.runner)) \(q(start)) "$E" </dev/null >\(q(l.startLog)) 2>&1
                    """
            return (
                appUnit, ("app.start", text),
                Service(what: "app", pidFile: pidFile, execStart: "/bin/sh \(units)/app.start")
            )
        case .containers(let engine, let roles, let nginx):
            let proxy =
                nginx.map { n in
                    """
                    if [ -f "$PROXY/nginx.conf" ]; then
                        \(nginxStart(n, "", " || rc=1"))
                      fi
                    """
                } ?? ""
            let text =
                launcherHeader("the containers that serve, at boot", unit: containersUnit) + """
                    APP=\(q(String(prefix.dropFirst("shipit-".count)))); SLOTS=\(q(l.slots)); PROXY=\(q(l.proxy))
                    ENGINE=\(q(engine.map(ShellQuote.quote).joined(separator: " ")))
                    eng() { eval "$ENGINE" '"$@"'; }
                    rc=0; names=; act=
                    if [ -f "$SLOTS/active" ]; then
                      # The traffic switch: the active slot's container, behind the proxy.
                      read -r act < "$SLOTS/active"
                      [ -z "$act" ] || [ ! -f "$SLOTS/$act.container" ] || read -r names < "$SLOTS/$act.container"
                      \(proxy)
                    else
                      id=; [ ! -f \(q(l.imageCurrent)) ] || read -r id < \(q(l.imageCurrent))
                      [ -z "$id" ] || names="$APP-$id"
                    fi
                    # Role names are identifiers: words.
                    ROLES=\(q(roles.joined(separator: " ")))
                    for r in $ROLES; do names="$names $APP-$r"; done
                    for n in $names; do
                      if ! eng container inspect "$n" >/dev/null 2>&1; then echo "$n: no such container" >&2; rc=1; continue; fi
                      eng start "$n" >/dev/null || rc=1
                    done
                    # The slot's pid file names the container's new process (the old one died with the boot).
                    if [ -n "$act" ] && [ -f "$SLOTS/$act.container" ]; then
                      eng container inspect --format '{{.State.Pid}}' "$(cat "$SLOTS/$act.container")" > "$SLOTS/$act.pid" 2>/dev/null
                    fi
                    exit $rc
                    """
            return (
                containersUnit, ("containers.start", text),
                Service(
                    what: "the containers that serve", type: "oneshot", remainAfterExit: true,
                    execStart: "/bin/sh \(units)/containers.start")
            )
        }
    }

    /// The managed nginx started from `$PROXY` (its config, logs and pid file are there), the
    /// command between `before` and `after`; `PATH` gets the sbin directories first.
    private func nginxStart(_ nginx: String, _ before: String, _ after: String) -> String {
        """
        PATH="$PATH:/usr/sbin:/usr/local/sbin"
        # A killed nginx leaves its slot sockets behind, and nginx will not bind over them.
        rm -f "$PROXY"/slot-*.sock
        \(before)\(q(nginx)) -e "$PROXY/error.log" -p "$PROXY/" -c "$PROXY/nginx.conf"\(after)
        """
    }

    private func launcherHeader(_ what: String, unit: String) -> String {
        """
        #!/bin/sh
        # shipit: starts \(what) (unit \(unit)).
        # Written by every deploy's pre-flight: changes here do not last.

        """
    }

    /// `$E`: the release's environment file (`env:`, `secrets:`), read by the shell that runs the
    /// command (`ReleaseEnvFile.runner`), never by the launcher's own.
    private func releaseEnv() -> String {
        "E=\(q(layout.releaseEnvs))/\"$ID\""
    }

    private func exports(_ env: [(String, String)]) -> String {
        env.map { "export \($0.0)=\(q($0.1))" }.joined(separator: "\n")
    }

    /// The first line of every unit file: which deploy it belongs to (two apps of one name in two
    /// directories of a host would otherwise share units).
    func ownerLine() -> String { "# shipit: \(layout.deployTo)" }

    /// `[Service]` comes last: for system units the pre-flight appends `User=` and `Group=` (the
    /// deploy user, as the host names it).
    private func unitFile(_ s: Service) -> String {
        let app = String(prefix.dropFirst("shipit-".count))
        let wantedBy = settings.units == .user ? "default.target" : "multi-user.target"
        return """
            \(ownerLine())
            [Unit]
            Description=shipit \(app): \(s.what) (\(layout.deployTo))
            StartLimitIntervalSec=60
            StartLimitBurst=10

            [Install]
            WantedBy=\(wantedBy)

            [Service]
            Type=\(s.type)
            \(s.remainAfterExit ? "RemainAfterExit=yes\n" : "")\(s.pidFile.map { "PIDFile=\($0)\n" } ?? "")ExecStart=\(s.execStart)
            Restart=on-failure
            RestartSec=200ms
            TimeoutStartSec=90
            TimeoutStopSec=\(Self.seconds(s.stopTimeout))
            KillSignal=\(s.killSignal)
            """
    }

    static func seconds(_ s: Double) -> String {
        s == s.rounded() ? String(Int(s)) + "s" : String(Int((s * 1000).rounded())) + "ms"
    }

    private func q(_ s: String) -> String { ShellQuote.quote(s) }

    // MARK: scripts

    /// Variables carrying `files`: `UNIT_NAMES` (words: app and role names are identifiers) and
    /// `UNIT_TEXT_<n>`.
    func fileVariables(_ files: [(name: String, text: String)]) -> [(String, String)] {
        [("UNIT_NAMES", files.map(\.name).joined(separator: " "))]
            + files.enumerated().map { ("UNIT_TEXT_\($0.offset + 1)", $0.element.text) }
    }

    /// First in a pre-flight, before anything changes: `$SV` is `systemd` or `none`, or the
    /// script fails (`supervisor: systemd` where it is not there). Prints `supervisor=` and, when
    /// `auto` fell back to none, `supervisor.why=`.
    static let detect: ScriptText = """
        SV=none
        if [ "$SUPERVISOR" != none ]; then
          why=
          if [ ! -d /run/systemd/system ]; then
            why="systemd is not this host's init (no /run/systemd/system)"
          elif [ "$UNIT_SCOPE" = user ]; then
            me=$(id -un)
            st=$(svctl is-system-running 2>/dev/null)
            case "$st" in
              running | degraded | starting | initializing)
                [ -e "/var/lib/systemd/linger/$me" ] || why="$me does not linger: its units would stop when its last session ends and would not start at boot (run shipit check --fix, or as root: loginctl enable-linger $me)" ;;
              *) why="the user manager of $me does not answer (systemctl --user: ${st:-no answer}; it needs libpam-systemd and sshd's UsePAM yes)" ;;
            esac
          else
            st=$(svctl is-system-running 2>&1)
            case "$st" in
              running | degraded | starting | initializing) ;;
              *) why="systemctl${UNIT_SUDO:+ through '$UNIT_SUDO'} failed: $(short "$st" 200)" ;;
            esac
          fi
          if [ -z "$why" ]; then SV=systemd
          elif [ "$SUPERVISOR" = systemd ]; then fail \(ScriptExit.supervisorUnavailable) "supervisor: systemd: $why"
          else echo "supervisor.why=$why"; fi
        fi
        echo "supervisor=$SV"
        """

    /// After the lock: the launchers and unit files written where they differ, one daemon-reload
    /// when a unit file changed, the decision recorded for the later scripts.
    static let install: ScriptText = """
        # What the host had (no fork: every host runs this at once, every deploy).
        getv sv_was "$META/supervisor"
        if [ "$SV" = systemd ]; then
          write_units
        elif [ "$sv_was" = systemd ]; then
          # The host had a supervisor: none of this app's units starts at boot any more. What runs in
          # them keeps serving until a switch stops it by its pid, as without a supervisor.
          for u in $(svctl list-unit-files --no-legend "$UNIT_PREFIX.service" "$UNIT_PREFIX-*" 2>/dev/null | cut -d' ' -f1); do
            case "$u" in
              *@.service) for s in ${SLOT_PORTS:-}; do svctl disable -q "${u%@.service}@$s.service" 2>/dev/null; done ;;
              *) svctl disable -q "$u" 2>/dev/null ;;
            esac
          done
          echo "supervisor.retired=$UNIT_PREFIX"
        fi
        [ "$sv_was" = "$SV" ] || printf '%s\\n' "$SV" > "$META/supervisor"
        """

    /// `write_units`: the launchers and unit files of `$UNIT_NAMES` written where they differ (a
    /// unit of the same name from another deploy_to is refused), one daemon-reload when a unit
    /// file changed.
    static let writeUnits = ShellFunction(
        "write_units", requires: [svctl],
        """
        write_units() {
          mkdir -p "$UNITS" || fail \(ScriptExit.notWritable) "cannot create $UNITS"
          if [ "$UNIT_SCOPE" = user ]; then
            unit_dir="${XDG_CONFIG_HOME:-$HOME/.config}/systemd/user"
            mkdir -p "$unit_dir" || fail \(ScriptExit.notWritable) "cannot create $unit_dir"
          else
            unit_dir=/etc/systemd/system
          fi
          reload=; i=0; set -f
          for name in $UNIT_NAMES; do
            i=$((i + 1)); eval "text=\\$UNIT_TEXT_$i"
            case "$name" in
              *.start)
                [ "$(cat "$UNITS/$name" 2>/dev/null)" = "$text" ] || printf '%s\\n' "$text" > "$UNITS/$name" || fail \(ScriptExit.notWritable) "cannot write $UNITS/$name" ;;
              *)
                [ "$UNIT_SCOPE" = user ] || text="$text${NL}User=$(id -un)${NL}Group=$(id -gn)"
                was=$(cat "$unit_dir/$name" 2>/dev/null)
                [ "$was" != "$text" ] || continue
                owner=${text%%"$NL"*}
                if [ -n "$was" ] && [ "${was%%"$NL"*}" != "$owner" ]; then
                  fail \(ScriptExit.unitFailed) "$unit_dir/$name belongs to another deploy (${was%%"$NL"*}): give this app another name"
                fi
                printf '%s\\n' "$text" > "$UNITS/$name" || fail \(ScriptExit.notWritable) "cannot write $UNITS/$name"
                if [ "$UNIT_SCOPE" = user ]; then
                  cp "$UNITS/$name" "$unit_dir/$name.tmp" && mv "$unit_dir/$name.tmp" "$unit_dir/$name"
                else
                  # shellcheck disable=SC2086 # the prefix's words
                  $UNIT_SUDO install -m 644 "$UNITS/$name" "$unit_dir/$name"
                fi || fail \(ScriptExit.unitFailed) "cannot install $unit_dir/$name"
                reload=1 ;;
            esac
          done
          set +f
          if [ -n "$reload" ]; then out=$(svctl daemon-reload 2>&1) || fail \(ScriptExit.unitFailed) "systemctl daemon-reload: $(short "$out")"; fi
        }
        """)

    /// `svctl ARGS…`: systemctl for shipit's units, the deploy user's manager or the system's
    /// (through `$UNIT_SUDO`).
    static let svctl = ShellFunction(
        "svctl",
        """
        svctl() {
          if [ "$UNIT_SCOPE" = user ]; then
            XDG_RUNTIME_DIR=${XDG_RUNTIME_DIR:-/run/user/$(id -u)} systemctl --user "$@"
          else
            # shellcheck disable=SC2086 # the prefix's words (letters, digits, . _ - / =)
            $UNIT_SUDO systemctl "$@"
          fi
        }
        """)

    /// `supervised`: whether this host's processes are units (what its pre-flight found, in
    /// `$META/supervisor`; a host never deployed with a supervisor is not).
    static let supervised = ShellFunction(
        "supervised",
        """
        supervised() {
          [ -n "${SV:-}" ] || { SV=none; [ -f "$META/supervisor" ] && read -r SV < "$META/supervisor"; }
          [ "$SV" = systemd ]
        }
        """)

    /// `unit_restart UNIT`: (re)started, then enabled with `enable`; on failure stopped again (no
    /// automatic restarts of a start that failed) with systemd's message in `$out`.
    static let unitRestart = ShellFunction(
        "unit_restart", requires: [svctl],
        """
        unit_restart() {
          if ! out=$(svctl restart "$1" 2>&1); then svctl stop "$1" >/dev/null 2>&1; return 1; fi
          [ "${2:-}" != enable ] || svctl enable -q "$1" 2>/dev/null || echo "supervisor.warning=$1 could not be enabled: it will not start at boot"
        }
        """)

    /// `unit_retire UNIT`: stopped (its stop signal, then KILL after its timeout) and disabled.
    static let unitRetire = ShellFunction(
        "unit_retire", requires: [svctl],
        """
        unit_retire() { svctl stop "$1" >/dev/null 2>&1; svctl disable -q "$1" >/dev/null 2>&1; return 0; }
        """)

    static let functions: [ShellFunction] = [svctl, supervised, unitRestart, unitRetire, writeUnits, .getValue]
}
