import FoundationEssentials

/// The traffic switch's host-side pieces (docs/traffic.md), shared by the strategies that use it:
/// nginx in front of two slots, managed (shipit's own nginx under `.shipit/proxy`, run as the
/// deploy user) or system (an upstream file in someone else's nginx, a configured reload). Pure
/// text: shell fragments and the nginx files, every value quoted into a variable.
public struct TrafficSwitch: Sendable {
    public let settings: TrafficSettings
    public let layout: HostLayout
    /// The public port the proxy listens on (`health.port`), on `health.bindAddress`.
    public let publicPort: Int
    let health: DeployConfig.Health
    /// The `stop` command of the app deployed before the switch was turned on (symlink): what
    /// frees the public port for the proxy; without one, the pid in `shared/app.pid`.
    var legacyStop = ""
    /// Its `start` command and app name: what brings it back in place when the proxy cannot take
    /// the port after all.
    var legacyStart = ""
    var app = ""
    /// The request split of a rollout with request steps (nil: none; the proxy has no buckets).
    public var split: RequestSplit?

    public init(settings: TrafficSettings, layout: HostLayout, health: DeployConfig.Health) {
        self.settings = settings
        self.layout = layout
        self.publicPort = health.port
        self.health = health
    }

    /// What the slots bind (the proxy's upstream, the drain's watch) where a `:port` follows it
    /// (nginx's `proxy_pass` and `server`, ss's filter): an IPv6 literal in brackets, or nginx
    /// reads its last group as the port.
    func bind(_ host: String) -> String { HostAddress.bracketed(health.slotAddress(of: host)) }
    /// The public listener's `ADDRESS:PORT`.
    func publicListen(_ host: String) -> String { HostAddress.withPort(health.bindAddress(of: host), publicPort) }

    /// Where the slot sockets and the `active.sock` link are: the app's proxy directory, or its
    /// `front/` for the front door's servers, so an app moving behind the front door has both
    /// proxies serve it at once (the own proxy's exit unlinks its sockets, not these).
    var socketDir: String { settings.frontDoor == nil ? layout.proxy : layout.proxy + "/front" }

    /// The host-wide proxy this app's servers go in (nil: the app's own proxy).
    public var frontDoor: FrontDoor? { settings.frontDoor.map { FrontDoor(settings: $0, traffic: self) } }

    /// The header the proxy adds to every answer: which slot served it (the public smoke test
    /// waits until the switch is visible).
    public static let slotHeader = "X-Shipit-Slot"

    /// What the proxy answers in maintenance: 503, Retry-After, the message.
    public static func maintenanceConf(message: String, retryAfter: Int) -> String {
        "add_header Retry-After \(retryAfter) always;\nadd_header \(maintenanceHeader) on always;\nreturn 503 \"\(message)\\n\";\n"
    }

    /// The header a proxy in maintenance adds (so shipit can tell its 503 from the app's).
    public static let maintenanceHeader = "X-Shipit-Maintenance"

    /// A maintenance message nginx can hold inside double quotes, or nil.
    public static func isSafeMessage(_ m: String) -> Bool {
        m.count <= 500
            && m.allSatisfy {
                $0.isASCII && !$0.isNewline && !"\"\\$;{}".contains($0) && ($0 == " " || !$0.isWhitespace)
            }
    }

    /// Variables every traffic fragment reads.
    func variables(host: String) -> [(String, String)] {
        var v: [(String, String)] = [
            ("SLOT_PORTS", settings.slots.map(String.init).joined(separator: " ")), ("SLOT_BIND", bind(host)),
            ("LEGACY_STOP", legacyStop),
            ("LEGACY_START", legacyStart), ("APP_NAME", app), ("HOST_NAME", host), ("PUBLIC_PORT", String(publicPort)),
            ("PUBLIC_BIND", health.bindAddress(of: host)),
            ("DRAIN_TENTHS", String(Int(settings.drain * 10))), ("PROXY_MODE", settings.mode.rawValue),
        ]
        v.append(("FRONT_DOOR", settings.frontDoor == nil ? "" : "1"))
        v += [("SPLIT", split == nil ? "" : "1"), ("GOLDEN_LOG", goldenLog)]
        switch settings.mode {
        case .managed: v += [("NGINX", settings.nginx)]
        // NO_UPSTREAM: the upstream with no slot, what `point_none` writes.
        case .system:
            v += [
                ("UPSTREAM_FILE", settings.upstreamFile ?? ""), ("PROXY_TEST", settings.test ?? ""),
                ("PROXY_RELOAD", settings.reload ?? ""),
                ("NO_UPSTREAM", upstream(host: host, slot: nil)),
            ]
        }
        return v
    }

    /// The functions every traffic fragment may call.
    static let functions: [ShellFunction] =
        [
            .fail, .short, .appendHistory, .getValue, .alive, proxyTest, proxyReload, pointTo, pointNone, adoptPort,
            stopSlot, undoSwitch, proxyStart, FrontDoor.frontLock, RequestSplit.back, RequestSplit.share,
            RequestSplit.on, RequestSplit.quiet,
        ] + Supervision.functions

    /// Pre-flight (after the lock): the proxy's config written and checked with `nginx -t`, the
    /// proxy started when it is not running (managed), the slots' state reported.
    func preflight(host: String) -> (vars: [(String, String)], body: ScriptText) {
        if frontDoor != nil {
            // The front door's own step (after this script, the lock held) writes, tests and
            // starts the proxy; here, the app's side of it and the slots' state.
            return (
                variables(host: host),
                Self.sbinPath
                    + """

                    [ -d "$SLOTS" ] && [ -d "$PROXY" ] || mkdir -p "$SLOTS" "$PROXY" || fail \(ScriptExit.notWritable) "cannot create $SLOTS"
                    [ -f "$PROXY/maintenance.conf" ] || : > "$PROXY/maintenance.conf"
                    echo "proxy=front"
                    """ + Self.splitPreflight + Self.slotFacts
            )
        }
        let conf = nginxConf(host: host)
        let sum = (try? Digest.sha256Hex(Data(conf.utf8))) ?? conf
        let vars = variables(host: host) + [("NGINX_CONF", conf), ("NGINX_CONF_SUM", sum)]
        return (
            vars,
            Self.sbinPath
                + """

                [ -d "$SLOTS" ] && [ -d "$PROXY/tmp" ] || mkdir -p "$SLOTS" "$PROXY/tmp" || fail \(ScriptExit.notWritable) "cannot create $SLOTS"
                # A run that died between writing the upstream and recording the switch left them apart:
                # the slot recorded as active is the one the proxy serves from.
                getv active "$SLOTS/active"; getv upslot "$SLOTS/upstream.slot"
                reconcile=
                if [ -n "$active" ] && { [ "$upslot" != "$active" ] || { [ "$PROXY_MODE" = managed ] && [ ! -L "$SOCKS/active.sock" ]; }; }; then
                  point_to "$active" || fail \(ScriptExit.switchFailed) "cannot point the proxy at slot $active"
                  [ "$PROXY_MODE" = managed ] || reconcile=1
                  echo "proxy.reconciled=$active"
                fi
                # An app in the host's front door (traffic.hosts, then removed from the config): its
                # own proxy would take the front door's sockets of this app and fight it for the port.
                fd="$HOME/\(FrontDoor.homeDir)/apps/$APP_NAME.conf"
                if [ "$PROXY_MODE" = managed ] && [ -f "$fd" ] && [ "$(head -n 1 "$fd")" = "# shipit: $D" ]; then
                  fail \(ScriptExit.frontDoorConflict) "this app is in the host's front door ($fd): take it out first with 'shipit proxy remove' and the config that has traffic.hosts"
                fi
                """ + Self.splitPreflight + """

                    if [ "$PROXY_MODE" = managed ]; then
                      command -v "$NGINX" >/dev/null 2>&1 || fail \(ScriptExit.missingTool) "nginx ('$NGINX') not found on this host: install it (Debian: apt-get install nginx) or set traffic.nginx"
                      [ -f "$PROXY/maintenance.conf" ] || : > "$PROXY/maintenance.conf"
                      # The config is rewritten (and tested) only when it changed: its checksum says so.
                      changed=
                      getv sum "$PROXY/nginx.conf.sum"
                      if [ "$sum" != "$NGINX_CONF_SUM" ] || [ ! -f "$PROXY/nginx.conf" ]; then
                        changed=1
                        [ -f "$PROXY/nginx.conf" ] && mv "$PROXY/nginx.conf" "$PROXY/nginx.conf.old"
                        printf '%s\\n' "$NGINX_CONF" > "$PROXY/nginx.conf"
                      fi
                      getv npid "$PROXY/nginx.pid"; running=; alive "$npid" && running=1
                      # nginx -t when something changed or nginx must start; a running, unchanged config was
                      # tested when it was written.
                      if [ -n "$changed$reconcile" ] || [ -z "$running" ]; then
                        if ! out=$(proxy_test 2>&1); then
                          [ -f "$PROXY/nginx.conf.old" ] && mv "$PROXY/nginx.conf.old" "$PROXY/nginx.conf"
                          rm -f "$PROXY/nginx.conf.sum"
                          fail \(ScriptExit.proxyConfigInvalid) "proxy config invalid (nginx -t): $(short "$out")"
                        fi
                        printf '%s\\n' "$NGINX_CONF_SUM" > "$PROXY/nginx.conf.sum"
                      fi
                      if [ -n "$running" ]; then
                        if [ -n "$changed$reconcile" ]; then out=$(proxy_reload 2>&1) || fail \(ScriptExit.proxyReloadFailed) "proxy reload failed: $(short "$out")"; fi
                        # A proxy started before the host had a supervisor serves on: its unit is enabled,
                        # so the next boot starts it supervised.
                        if supervised; then svctl -q is-enabled "$UNIT_PREFIX-proxy.service" 2>/dev/null || svctl enable -q "$UNIT_PREFIX-proxy.service" 2>/dev/null || true; fi
                        echo "proxy=running"
                      elif [ -z "$active" ] && [ -L "$CURRENT" ]; then
                        # A release deployed without the switch serves here, maybe on the public port: the
                        # proxy starts in the switch, once the new release is warm on its slot and that app
                        # is stopped (adopt_port).
                        echo "proxy=deferred"
                      else
                        out=$(proxy_start 2>&1) || fail \(ScriptExit.proxyStartFailed) "proxy did not start: $(printf '%s' "$out" | grep -m1 emerg | tail -c 300) (is another process listening on the public port?)"
                        echo "proxy=started"
                      fi
                    else
                      touch "$UPSTREAM_FILE" 2>/dev/null || fail \(ScriptExit.notWritable) "cannot write the upstream file $UPSTREAM_FILE"
                      out=$(proxy_test 2>&1) || fail \(ScriptExit.proxyConfigInvalid) "proxy config invalid: $(short "$out")"
                      if [ -n "$reconcile" ]; then out=$(proxy_reload 2>&1) || fail \(ScriptExit.proxyReloadFailed) "proxy reload failed: $(short "$out")"; fi
                      echo "proxy=system"
                    fi
                    """ + Self.slotFacts
        )
    }

    /// `slot.active=PORT`, `slot.PORT=RELEASE running|stopped`, `maintenance=on|off`, and
    /// `split.share=PERCENT` while a request step's split is in place.
    static let slotFacts: ScriptText = """
        getv sa "$SLOTS/active"; echo "slot.active=$sa"
        for s in $SLOT_PORTS; do
          getv sp "$SLOTS/$s.pid"; getv sr "$SLOTS/$s.release"
          st=stopped; alive "$sp" && st=running
          echo "slot.$s=$sr $st"
        done
        if [ -s "$PROXY/maintenance.conf" ]; then echo "maintenance=on"; else echo "maintenance=off"; fi
        # A request step's split in place (a paused rollout): its share.
        if [ -n "$SPLIT" ] && split_on; then getv ssh "$SOCKS/split/share"; echo "split.share=${ssh:-0}"; fi
        """

    /// Starts `$ID` on `$SLOT` (never the slot serving traffic; empty: the idle one) with `PORT` and `SHIPIT_PIDFILE`;
    /// with `$REUSE`, a slot already running that release is kept as it is (a warm standby).
    /// `startBody` is the strategy's start (symlink: the `start` command in the release dir).
    /// `supervisedStart`: the same through the slot's unit (nil: the strategy has none).
    func warmBody(startBody: ScriptText, supervisedStart: ScriptText? = nil) -> ScriptText {
        Self.sbinPath
            + """

            mkdir -p "$SLOTS"
            getv act "$SLOTS/active"
            # No slot given (a warm-up riding in an earlier step's script): the one not serving, as
            # TrafficSettings.idle(after:) picks it.
            if [ -z "$SLOT" ]; then for s in $SLOT_PORTS; do [ "$s" = "$act" ] || { SLOT=$s; break; }; done; fi
            getv rel "$SLOTS/$SLOT.release"; getv pid "$SLOTS/$SLOT.pid"
            [ "$act" != "$SLOT" ] || fail \(ScriptExit.slotServesTraffic) "slot $SLOT serves traffic: refusing to restart it"
            if [ -n "$REUSE" ] && [ "$rel" = "$ID" ] && alive "$pid"; then
              echo "warmed=$ID"; echo "slot=$SLOT"; echo "reused=1"; exit 0
            fi
            stop_slot "$SLOT"
            export PORT="$SLOT" SHIPIT_SLOT="$SLOT" SHIPIT_PIDFILE="$SLOTS/$SLOT.pid"
            """ + (supervisedStart.map { .ifElse("supervised", $0, else: startBody) } ?? startBody)
                + """
                [ -s "$SLOTS/$SLOT.pid" ] || fail \(ScriptExit.noPidFile) "the start command did not write the app's pid to \\$SHIPIT_PIDFILE: shipit could not stop it later"
                printf '%s\\n' "$ID" > "$SLOTS/$SLOT.release"
                echo "warmed=$ID"; echo "slot=$SLOT"
                """
    }

    /// Points the proxy at `$SLOT` (which must run `$ID`): the upstream file replaced, the config
    /// tested, a graceful reload (old workers finish their requests); on any failure the old
    /// upstream is put back. Then `current`, the active slot and the history line.
    /// `recordCurrent`: how the strategy records the release that now serves (the `current` link;
    /// the image strategy's current file).
    func switchBody(host: String, recordCurrent: ScriptText) -> (vars: [(String, String)], body: ScriptText) {
        (
            variables(host: host),
            Self.sbinPath
                + """

                getv rel "$SLOTS/$SLOT.release"; getv pid "$SLOTS/$SLOT.pid"
                [ "$rel" = "$ID" ] && alive "$pid" || fail \(ScriptExit.slotNotRunning) "release $ID is not running on slot $SLOT"
                echo "previous=$PREVIOUS"
                getv oldact "$SLOTS/active"
                # On failure the proxy goes back to the slot that served (or to none before the first).
                point_to "$SLOT" || fail \(ScriptExit.switchFailed) "cannot point the proxy at slot $SLOT"
                if [ "$PROXY_MODE" = managed ]; then
                  getv npid "$NGX/nginx.pid"
                  if ! alive "$npid" && ! adopt_port; then
                    undo_switch "$oldact"; fail \(ScriptExit.proxyStartFailed) "the proxy did not start on the public port after the app that held it was stopped (that app was started again in place): $(printf '%s' "$out" | grep -m1 emerg | tail -c 300)"
                  fi
                else
                  if ! out=$(proxy_test 2>&1); then undo_switch "$oldact"; fail \(ScriptExit.proxyConfigInvalidAfterSwitch) "proxy config invalid after the switch, switch undone: $(short "$out")"; fi
                  if ! out=$(proxy_reload 2>&1); then undo_switch "$oldact"; proxy_reload >/dev/null 2>&1; fail \(ScriptExit.proxyReloadFailed) "proxy reload failed, switch undone: $(short "$out")"; fi
                fi
                # A request step's split ends here: both of the buckets' targets follow active.sock again.
                if [ -n "$SPLIT" ] && split_on; then
                  if ! split_back; then
                    undo_switch "$oldact"; split_back >/dev/null 2>&1
                    fail \(ScriptExit.switchFailed) "the request split's links could not be sent back to active.sock: switch undone"
                  fi
                  : > "$GOLDEN_LOG"
                fi
                printf '%s\\n' "$SLOT" > "$SLOTS/active"
                # Under a supervisor, what is enabled (started at boot) is what serves.
                if supervised; then
                  svctl enable -q "$UNIT_PREFIX-slot@$SLOT.service" 2>/dev/null || echo "supervisor.warning=$UNIT_PREFIX-slot@$SLOT.service could not be enabled: it will not start at boot"
                  [ -z "$oldact" ] || [ "$oldact" = "$SLOT" ] || svctl disable -q "$UNIT_PREFIX-slot@$oldact.service" 2>/dev/null || true
                fi
                """ + recordCurrent
                    + """
                    echo "switched=$ID"; echo "slot=$SLOT"
                    append_history
                    [ ! -e "$FAILED/$ID" ] || rm -f "$FAILED/$ID"
                    """
        )
    }

    /// For a closing script: stops, after draining, every slot that runs `$ID` but serves no
    /// traffic (a release that failed its warm-up, or was switched away from).
    static let stopFailedSlots: ScriptText = """
        getv act "$SLOTS/active"
        # A request step's split still sending requests to it goes back to the serving slot first;
        # if it cannot, the slot keeps running (its requests would fail).
        stuck=
        if [ -n "$SPLIT" ] && [ -n "$act" ] && split_on; then
          if split_back; then echo "split.reset=1"; else stuck=1; echo "split.stuck=1"; fi
        fi
        for s in $SLOT_PORTS; do
          getv rel "$SLOTS/$s.release"
          [ -z "$stuck" ] && [ "$s" != "$act" ] && [ "$rel" = "$ID" ] && stop_slot "$s" drain && echo "stopped.slot=$s"
        done
        true
        """

    /// A first release that failed after its switch has nothing to go back to: the proxy serves no
    /// slot again (as before the first deploy), and every slot running `$ID` stops after draining.
    static let retreatSlots: ScriptText = """
        getv act "$SLOTS/active"; rel=; [ -z "$act" ] || getv rel "$SLOTS/$act.release"
        if [ -n "$act" ] && [ "$rel" = "$ID" ]; then
          point_none
          [ "$PROXY_MODE" = managed ] || proxy_reload >/dev/null 2>&1 || true
          rm -f "$SLOTS/active"
        fi
        for s in $SLOT_PORTS; do
          getv rel "$SLOTS/$s.release"
          [ "$rel" = "$ID" ] && stop_slot "$s" drain && echo "stopped.slot=$s"
        done
        true
        """

    /// After a deploy: with `standby: SECONDS`, a detached timer on the host stops the warm standby
    /// then, if it is still the idle slot's release (a later deploy or rollback may have moved on).
    func standbyTimer() -> ScriptText {
        guard let seconds = settings.standbySeconds else { return .empty }
        return """
            getv act "$SLOTS/active"
            for s in $SLOT_PORTS; do
              [ "$s" != "$act" ] || continue
              getv rel "$SLOTS/$s.release"; [ -n "$rel" ] || continue
              setsid sh -c 'sleep "$1"; [ "$(cat "$2/active" 2>/dev/null)" != "$3" ] && [ "$(cat "$2/$3.release" 2>/dev/null)" = "$4" ] || exit 0
                p=$(cat "$2/$3.pid" 2>/dev/null); [ -n "$p" ] && kill -TERM "$p" 2>/dev/null; rm -f "$2/$3.pid" "$2/$3.release"' \
                standby-timer \(Int(seconds.rounded(.up))) "$SLOTS" "$s" "$rel" </dev/null >/dev/null 2>&1 &
              echo "standby.until=$s $(( $(date +%s) + \(Int(seconds.rounded(.up))) ))"
            done
            """
    }

    /// Releases running on a slot: never pruned.
    static let runningReleases: ScriptText = """
        running=$(cat "$SLOTS"/*.release 2>/dev/null || true)
        """

    /// Maintenance on or off: the include written, the config tested, a graceful reload.
    func maintenance(host: String, conf: String) -> (vars: [(String, String)], body: ScriptText) {
        (
            variables(host: host) + [("MAINTENANCE_CONF", conf)],
            Self.sbinPath
                + """

                [ "$PROXY_MODE" = managed ] || fail \(ScriptExit.maintenanceUnavailable) "maintenance mode needs the managed proxy (mode: managed)"
                # The front door is the host's: its config changes one app at a time.
                [ -z "$FRONT_DOOR" ] || front_lock
                [ -f "$NGX/nginx.conf" ] || fail \(ScriptExit.maintenanceUnavailable) "the proxy is not set up on this host yet: deploy once first"
                cp -p "$PROXY/maintenance.conf" "$PROXY/maintenance.conf.prev" 2>/dev/null || : > "$PROXY/maintenance.conf.prev"
                printf '%s' "$MAINTENANCE_CONF" > "$PROXY/maintenance.conf"
                if ! out=$(proxy_test 2>&1); then mv "$PROXY/maintenance.conf.prev" "$PROXY/maintenance.conf"; fail \(ScriptExit.proxyConfigInvalidAfterSwitch) "proxy config invalid: $(short "$out")"; fi
                out=$(proxy_reload wait 2>&1) || fail \(ScriptExit.proxyReloadFailed) "proxy reload failed: $(short "$out")"
                if [ -s "$PROXY/maintenance.conf" ]; then echo "maintenance=on"; else echo "maintenance=off"; fi
                append_history
                """
        )
    }
}

/// What a strategy's closing, inventory and inspection scripts take of the traffic switch: its
/// variables, shell functions and fragments, all empty without one, so each script reads the same
/// either way.
struct TrafficScriptPart {
    var vars: [(String, String)] = []
    var uses: [ShellFunction] = []
    var setup: ScriptText = .empty
    var slotFacts: ScriptText = .empty
    var stopFailedSlots: ScriptText = .empty
    var retreatSlots: ScriptText = .empty
    /// Sets `$running`: the releases on a slot (never pruned).
    var runningReleases: ScriptText = "running="
    var standbyTimer: ScriptText = .empty
}

extension Optional where Wrapped == TrafficSwitch {
    /// `host`: whose address the drain watches (nil where nothing is drained); `extraVars`: the
    /// strategy's own (the image strategy's stop timeout), only with a traffic switch.
    func scriptPart(host: String?, extraVars: [(String, String)] = []) -> TrafficScriptPart {
        guard let t = self else { return TrafficScriptPart() }
        return TrafficScriptPart(
            vars: t.variables(host: host ?? "") + extraVars, uses: TrafficSwitch.functions,
            setup: TrafficSwitch.sbinPath, slotFacts: TrafficSwitch.slotFacts,
            stopFailedSlots: TrafficSwitch.stopFailedSlots, retreatSlots: TrafficSwitch.retreatSlots,
            runningReleases: TrafficSwitch.runningReleases, standbyTimer: t.standbyTimer())
    }
}
