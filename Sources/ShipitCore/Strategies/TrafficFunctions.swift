/// The traffic switch's shell functions (the proxy, the slots), each defined once; a script names
/// the ones it calls and `HostScript` adds what they call.
extension TrafficSwitch {
    static let proxyTest = ShellFunction(
        "proxy_test", requires: [],
        """
        proxy_test() {
          if [ "$PROXY_MODE" = managed ]; then "$NGINX" -t -q -e "$NGX/error.log" -p "$NGX/" -c "$NGX/nginx.conf"; else sh -c "$PROXY_TEST"; fi
        }
        """)

    static let nginxWorkers = ShellFunction(
        "nginx_workers", requires: [.getValue],
        """
        # The managed nginx's worker pids (children of its master), read from /proc without forking.
        nginx_workers() {
          getv m "$NGX/nginx.pid"; [ -n "$m" ] || return 0
          for d in /proc/[0-9]*; do
            read -r st < "$d/stat" 2>/dev/null || continue
            case "$st" in *"(nginx) "*) set -- ${st##*) }; [ "$2" = "$m" ] && echo "${d#/proc/}" ;; esac
          done
        }
        """)

    /// `workers_gone PIDS`: returns once none of PIDS (the old workers of a reload) runs, or after
    /// the drain time (5 s at least).
    static let workersGone = ShellFunction(
        "workers_gone", requires: [.alive],
        """
        workers_gone() {
          i=0; n=$((DRAIN_TENTHS > 50 ? DRAIN_TENTHS * 10 : 500))
          while [ "$i" -lt "$n" ]; do
            still=; for p in $1; do alive "$p" && still=1; done
            [ -z "$still" ] && return 0
            sleep 0.01; i=$((i + 1))
          done
          return 0
        }
        """)

    static let proxyReload = ShellFunction(
        "proxy_reload", requires: [nginxWorkers, workersGone],
        """
        # A graceful reload. nginx's master starts the new workers, then lets the old ones accept for
        # another 100 ms before it asks them to finish their requests and exit. With `wait`, return
        # only once they are gone (bounded by the drain time), so every new connection sees the new
        # config (a switch and maintenance wait; a pre-flight reconfiguration does not need to).
        proxy_reload() {
          if [ "$PROXY_MODE" != managed ]; then sh -c "$PROXY_RELOAD"; return; fi
          old=$(nginx_workers)
          "$NGINX" -s reload -e "$NGX/error.log" -p "$NGX/" -c "$NGX/nginx.conf" || return 1
          [ "${1:-}" = wait ] || return 0
          workers_gone "$old"
        }
        """)

    static let leftNow = ShellFunction(
        "left_now", requires: [],
        """
        # `left_now SLOT`: the moment the proxy stopped sending to SLOT (seconds since boot, read
        # from /proc/uptime: no fork), for stop_slot's settle time; only a system nginx needs one.
        left_now() { [ "$PROXY_MODE" != managed ] || return 0; read -r up _ < /proc/uptime && printf '%s\\n' "$up" > "$SLOTS/$1.left"; }
        """)

    /// `relink TARGET LINK`: LINK made a symlink to TARGET by renaming a new link over it, so a
    /// request that follows LINK meanwhile finds the old target or the new one, never nothing.
    static let relink = ShellFunction(
        "relink", requires: [],
        """
        relink() { ln -sfn "$1" "$2.tmp" && mv -Tf "$2.tmp" "$2"; }
        """)

    static let pointTo = ShellFunction(
        "point_to", requires: [.getValue, leftNow, relink],
        """
        # Points the proxy at slot $1 and records which slot that is. Managed: the active.sock link is
        # renamed into place (atomic; takes effect with the next request). System: the upstream file
        # (the caller tests and reloads).
        point_to() {
          getv was "$SLOTS/upstream.slot"
          if [ "$PROXY_MODE" = managed ]; then
            [ -d "$SOCKS" ] || mkdir -p "$SOCKS" || return 1
            relink "slot-$1.sock" "$SOCKS/active.sock" || return 1
            # A front door whose app file still names the sockets' old paths (written before they
            # moved to $SOCKS, until its next front door step) serves through the old link.
            if [ "$SOCKS" != "$PROXY" ] && [ -L "$PROXY/active.sock" ]; then relink "slot-$1.sock" "$PROXY/active.sock" || return 1; fi
          else
            printf 'upstream shipit_app {\\n    server %s:%s;\\n    keepalive 16;\\n}\\n' "$SLOT_BIND" "$1" > "$UPSTREAM_FILE.tmp" && mv "$UPSTREAM_FILE.tmp" "$UPSTREAM_FILE" || return 1
          fi
          printf '%s\\n' "$1" > "$SLOTS/upstream.slot"
          [ ! -e "$SLOTS/$1.left" ] || rm -f "$SLOTS/$1.left"  # (rm is a fork: only when there is one)
          [ -z "$was" ] || [ "$was" = "$1" ] || left_now "$was"
        }
        """)

    static let inPlace = ShellFunction(
        "in_place", requires: [.currentID],
        """
        # The switch turned on for an app that was deployed without it: that app holds the public
        # port. It is stopped (its `stop` command in the release it runs, else the pid in
        # shared/app.pid: TERM, then KILL after 10 s) right before the managed proxy starts and binds
        # the port, retried for 5 s while the port frees. Prints how long the port answered no one.
        # `in_place CMD`: CMD in the release `current` names, with the environment `start` gets
        # without the switch (the public port), output to the start log.
        in_place() {
          current_id
          (cd "$CURRENT" && export SHIPIT_APP="$APP_NAME" SHIPIT_HOST="$HOST_NAME" PORT="$PUBLIC_PORT" SHIPIT_BIND="$PUBLIC_BIND" SHIPIT_DEPLOY_TO="$D" \
            SHIPIT_RELEASE="$CUR" SHIPIT_RELEASE_PATH="$RELEASES/$CUR" && sh -c '\(ReleaseEnvFile.runner)' "$1" "$META/env/$CUR") >>"$META/start.log" 2>&1
        }
        """)

    static let proxyStart = ShellFunction(
        "proxy_start", requires: [Supervision.supervised, Supervision.unitRestart, Supervision.svctl],
        """
        # Starts the managed proxy: its unit under a supervisor (enabled: it comes back at boot), else
        # nginx itself. On failure, nginx's complaint is in the output.
        proxy_start() {
          if supervised; then
            u="$UNIT_PREFIX-proxy.service"; [ -z "$FRONT_DOOR" ] || u=\(FrontDoor.unit)
            unit_restart "$u" enable && return 0
            svctl reset-failed "$u" >/dev/null 2>&1
            printf '%s\\n' "$out"; grep emerg "$NGX/error.log" 2>/dev/null | tail -n 1
            return 1
          fi
          # A killed nginx leaves its slot sockets behind, and nginx will not bind over them (the
          # front door's: every app's, as their files name them).
          if [ -n "$FRONT_DOOR" ]; then
            for s in $(sed -n 's/^ *listen unix:\\(.*\\);$/\\1/p' "$NGX"/apps/*.conf 2>/dev/null); do rm -f "$s"; done
          else
            rm -f "$PROXY"/slot-*.sock
          fi
          # Not with the front door's lock (fd 8): nginx would hold it for as long as it runs.
          "$NGINX" -e "$NGX/error.log" -p "$NGX/" -c "$NGX/nginx.conf" 8>&-
        }
        """)

    static let adoptPort = ShellFunction(
        "adopt_port", requires: [inPlace, .getValue, .alive, proxyStart, Supervision.unitRetire],
        """
        adopt_port() {
          read -r t0 _ < /proc/uptime
          # The app's own unit (a supervised host without the switch) stops first.
          ! supervised || unit_retire "$UNIT_PREFIX.service"
          if [ -n "$LEGACY_STOP" ]; then
            in_place "$LEGACY_STOP" || true
            rm -f "$SHARED/app.pid"
          else
            getv lp "$SHARED/app.pid"
            if alive "$lp"; then
              kill -TERM "$lp" 2>/dev/null
              i=0; while alive "$lp" && [ "$i" -lt 500 ]; do sleep 0.02; i=$((i + 1)); done
              alive "$lp" && kill -KILL "$lp" 2>/dev/null
            fi
            # Its pid is stale now: a later start reading it could stop whatever took the number.
            rm -f "$SHARED/app.pid"
          fi
          i=0
          until out=$(proxy_start 2>&1); do
            i=$((i + 1))
            if [ "$i" -ge 250 ]; then
              # The port stayed taken (or nginx cannot bind it): the old app comes back in place,
              # so the port is not left with no one behind it.
              [ -z "$LEGACY_START" ] || in_place "$LEGACY_START" || true
              return 1
            fi
            sleep 0.02
          done
          read -r t1 _ < /proc/uptime
          echo "proxy.adopted.ms=$(( (${t1%.*}${t1#*.} - ${t0%.*}${t0#*.}) * 10 ))"
        }
        """)

    static let pointNone = ShellFunction(
        "point_none", requires: [.getValue, leftNow],
        """
        # The proxy serves no slot, as before the first deploy. System: the caller tests and reloads.
        point_none() {
          getv was "$SLOTS/upstream.slot"
          if [ "$PROXY_MODE" = managed ]; then rm -f "$SOCKS/active.sock" "$SLOTS/upstream.slot"
          else printf '%s' "$NO_UPSTREAM" > "$UPSTREAM_FILE"; rm -f "$SLOTS/upstream.slot"; fi
          [ -z "$was" ] || left_now "$was"
        }
        """)

    static let settled = ShellFunction(
        "settled", requires: [.getValue],
        """
        # Whether slot $1 left the proxy long enough ago for a reload to have taken effect. A system
        # nginx's reload command returns before its old workers stop accepting, and they still send
        # new connections to the old upstream for a moment: a slot stopped right after a switch away
        # (the closing script after a rollback) would answer them 502. The managed proxy switches by
        # renaming a link, effective with the next request: it records no time, so settled at once.
        settled() {
          getv left "$SLOTS/$1.left"; [ -n "$left" ] || return 0
          read -r up _ < /proc/uptime || return 0
          n=${up%.*}${up#*.}; n=${n#0}; n=${n#0}; l=${left%.*}${left#*.}; l=${l#0}; l=${l#0}
          [ $((n - l)) -ge 200 ]
        }
        """)

    static let busy = ShellFunction(
        "busy", requires: [],
        """
        # Whether a connection to slot $1 is open (ss, when the host has it).
        busy() { command -v ss >/dev/null 2>&1 && ss -Htn state established "( src $SLOT_BIND:$1 )" 2>/dev/null | grep -q .; }
        """)

    static let stopSlot = ShellFunction(
        "stop_slot", requires: [.getValue, .alive, settled, busy, Supervision.supervised, Supervision.unitRetire],
        """
        # Stops the app on a slot. With drain: first waits (up to DRAIN_TENTHS tenths of a second) until the
        # proxy's switch away from it has settled and no connection to it is open, so in-flight
        # requests finish.
        stop_slot() {
          pf="$SLOTS/$1.pid"
          getv pid "$pf"
          if [ -n "${2:-}" ] && alive "$pid"; then
            i=0
            while [ "$i" -lt "$DRAIN_TENTHS" ] && { ! settled "$1" || busy "$1"; }; do sleep 0.1; i=$((i + 1)); done
          fi
          # Its unit (stopped: TERM, KILL after the unit's timeout), not started at boot either; a
          # process started before the host had a supervisor is stopped below.
          ! supervised || unit_retire "$UNIT_PREFIX-slot@$1.service"
          if [ -f "$SLOTS/$1.container" ] && command -v eng >/dev/null 2>&1; then
            # A container (image strategy): the engine stops it (SIGTERM, then SIGKILL after STOP_TIMEOUT).
            getv cname "$SLOTS/$1.container"
            eng stop -t "${STOP_TIMEOUT:-10}" "$cname" >/dev/null 2>&1 || true
          elif alive "$pid"; then
            kill -TERM "$pid" 2>/dev/null
            i=0; while alive "$pid" && [ "$i" -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
            alive "$pid" && kill -KILL "$pid" 2>/dev/null
          fi
          rm -f "$pf" "$SLOTS/$1.release" "$SLOTS/$1.container" "$SLOTS/$1.left"
        }
        """)

    /// `undo_switch SLOT`: the proxy back to the slot that served before a switch that failed (to
    /// none before the first release).
    static let undoSwitch = ShellFunction(
        "undo_switch", requires: [pointTo, pointNone],
        """
        undo_switch() { if [ -n "$1" ]; then point_to "$1"; else point_none; fi; }
        """)

    /// The PATH a traffic script runs with: nginx lives in sbin, which a non-login SSH session's
    /// PATH often lacks.
    /// `$NGX`: where the nginx that serves the app keeps its config, pid and logs: the app's own
    /// proxy directory, or the host-wide front door's. `$SOCKS`: where its slot sockets and the
    /// `active.sock` link are (`TrafficSwitch.socketDir`).
    static let sbinPath: ScriptText = """
        PATH="$PATH:/usr/sbin:/usr/local/sbin"
        if [ -n "${FRONT_DOOR:-}" ]; then NGX="$HOME/\(FrontDoor.homeDir)"; SOCKS="$PROXY/front"; else NGX="$PROXY"; SOCKS="$PROXY"; fi
        """
}
