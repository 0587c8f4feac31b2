import FoundationEssentials

/// The host-wide proxy (docs/front-door.md): one nginx per host, run as the deploy user from
/// `~/.shipit/front`, shared by every shipit app of the host. Each app owns one file,
/// `apps/<app>.conf`: its slot servers (unix sockets in its own `.shipit/proxy`, so the per-app
/// reload-free switch is the single-app proxy's) and its public servers, chosen by `server_name`
/// on ports every app shares. One file per listening address and port (`ports/`) holds the
/// default server, which answers names no app has (404, or no TLS handshake).
///
/// An app's new file is tested (`nginx -t`) together with every other app's current file before
/// it replaces its old one, under a host-wide lock: a file that does not pass never reaches the
/// running proxy, and two apps deploying at once change it one after the other.
public struct FrontDoor: Sendable {
    public let settings: FrontDoorSettings
    let traffic: TrafficSwitch

    /// Where it lives, relative to the deploy user's home.
    public static let homeDir = ".shipit/front"

    /// Its unit where systemd supervises the host's apps: one for the host, whichever app wrote it.
    public static let unit = "shipit-front.service"

    /// `front_unit`: the front door's launcher (`$NGX/front.start`) and unit written where they
    /// differ, for the scope the app's units use (user units with linger, or system units).
    static let frontUnit = ShellFunction(
        "front_unit", requires: [Supervision.writeUnits],
        """
        front_unit() {
          launcher=$(printf '%s\n' '#!/bin/sh' '# shipit: starts the host-wide front door (unit \(unit)).' \
            '# Written by every pre-flight of an app behind it: changes here do not last.' \
            'PATH="$PATH:/usr/sbin:/usr/local/sbin"' "NGX='$NGX'" "NGINX='$NGINX'" \
            '# A killed nginx leaves the slot sockets behind, and nginx will not bind over them (not' \
            '# while a master runs: they are its own).' \
            'p=; [ ! -f "$NGX/nginx.pid" ] || read -r p < "$NGX/nginx.pid"' \
            'if [ -z "$p" ] || ! kill -0 "$p" 2>/dev/null; then' \
            '  for s in $(sed -n "s/^ *listen unix:\\(.*\\);$/\\1/p" "$NGX"/apps/*.conf 2>/dev/null); do rm -f "$s"; done' \
            'fi' \
            'exec "$NGINX" -e "$NGX/error.log" -p "$NGX/" -c "$NGX/nginx.conf"')
          [ "$(cat "$NGX/front.start" 2>/dev/null)" = "$launcher" ] || printf '%s\n' "$launcher" > "$NGX/front.start" ||
            fail \(ScriptExit.notWritable) "cannot write $NGX/front.start"
          wanted=default.target; [ "$UNIT_SCOPE" = user ] || wanted=multi-user.target
          UNIT_NAMES=\(unit)
          UNIT_TEXT_1=$(printf '%s\n' "# shipit: front door $NGX" '[Unit]' "Description=shipit front door: the host-wide proxy ($NGX)" \
            'StartLimitIntervalSec=60' 'StartLimitBurst=10' '' '[Install]' "WantedBy=$wanted" '' '[Service]' 'Type=forking' \
            "PIDFile=$NGX/nginx.pid" "ExecStart=/bin/sh $NGX/front.start" 'Restart=on-failure' 'RestartSec=200ms' \
            'TimeoutStartSec=90' 'TimeoutStopSec=10s')
          write_units
        }
        """)

    /// The certificate pair, as read from the deployer: the files' names on the host
    /// (`certs/<app>-<hash>`, so a new pair is tested before it replaces the old one) and the
    /// bytes sent on stdin (certificate, then key).
    public struct CertificatePair: Sendable {
        public let name: String
        public let certBytes: Int
        public let keyBytes: Int
        public let stdin: Data
    }

    /// Reads `tls`'s files (nil without TLS, or with `tls: acme` before the first order). The key
    /// is never printed or stored on the deployer.
    public func certificatePair(app: String) throws(ShipitError) -> CertificatePair? {
        guard let tls = settings.tls else { return nil }
        if settings.acme != nil, !FileManager.default.fileExists(atPath: tls.cert) { return nil }
        let (cert, key) = try tls.read()
        let sum = (try? Digest.sha256Hex(cert + key)) ?? "0"
        return CertificatePair(
            name: "\(app)-\(sum.prefix(12))", certBytes: cert.count, keyBytes: key.count, stdin: cert + key)
    }

    /// The host-wide nginx's own config: paths relative to its prefix and config directory, so
    /// every app writes the same text whoever the deploy user is.
    public static let mainConf = """
        # Written by shipit: the host-wide proxy every shipit app of this host shares.
        # Each app's servers are in apps/, the default server of each address and port in ports/.
        worker_processes auto;
        pid nginx.pid;
        error_log error.log warn;
        events { worker_connections 4096; }
        http {
            access_log off;
            default_type text/plain;
            server_names_hash_bucket_size 128;
            client_body_temp_path tmp/body;
            proxy_temp_path tmp/proxy;
            fastcgi_temp_path tmp/fastcgi;
            uwsgi_temp_path tmp/uwsgi;
            scgi_temp_path tmp/scgi;
            ssl_protocols TLSv1.2 TLSv1.3;
            ssl_session_cache shared:shipit_tls:10m;
            ssl_session_timeout 1h;
            include ports/*.conf;
            include apps/*.conf;
        }
        """

    /// What the app listens on: `ADDRESS:PORT/http` and, with TLS, `ADDRESS:PORT/https` (words).
    func listens(host: String) -> [String] {
        let address = traffic.health.bindAddress(of: host)
        var l = [HostAddress.withPort(address, settings.httpPort) + "/http"]
        if settings.tls != nil { l.append(HostAddress.withPort(address, settings.httpsPort) + "/https") }
        return l
    }

    /// The app's file: its owner and names on the first lines (what the pre-flight reads to
    /// refuse a second app of the same name or a name another app serves), its slot servers,
    /// its public servers. `cert`: the certificate pair's name in `certs/`.
    func appConf(host: String, app: String, cert: String?) -> String {
        let p = traffic.layout.proxy
        let socks = traffic.socketDir
        let address = traffic.health.bindAddress(of: host)
        let names = settings.names.joined(separator: " ")
        let slotServers = traffic.slotServers(
            host: host, socketDir: socks, forwardedFor: "$http_host",
            extra: "proxy_set_header X-Forwarded-Proto $http_x_forwarded_proto;\n                ")
        let hsts =
            settings.hstsSeconds.map { "add_header Strict-Transport-Security \"max-age=\($0)\" always;\n        " }
            ?? ""
        func toApp(proto: String) -> String {
            """
                location / {
                        \(hsts)include \(p)/maintenance.conf;
                        \(traffic.publicProxyPass(socketDir: socks))
                        proxy_http_version 1.1;
                        proxy_set_header Connection "";
                        proxy_set_header Host $http_host;
                        proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
                        proxy_set_header X-Forwarded-Proto \(proto);
                        proxy_connect_timeout 2s;
                    }
            """
        }
        let challenge = """
                location ^~ /.well-known/acme-challenge/ { root acme; default_type text/plain; }
            """
        let http: String
        if settings.tls != nil, cert == nil {
            // Ordered certificate not there yet (tls: acme, first order): the names answer the
            // CA's challenge and nothing else until it is.
            http = """
                server {
                    listen \(HostAddress.withPort(address, settings.httpPort));
                    server_name \(names);
                \(challenge)
                    location / { return 503 "waiting for its certificate\\n"; }
                }
                """
        } else if settings.tls != nil {
            let target = settings.httpsPort == 443 ? "https://$host" : "https://$host:\(settings.httpsPort)"
            http = """
                server {
                    listen \(HostAddress.withPort(address, settings.httpPort));
                    server_name \(names);
                \(challenge)
                    location / { return 301 \(target)$request_uri; }
                }
                server {
                    listen \(HostAddress.withPort(address, settings.httpsPort)) ssl;
                    server_name \(names);
                    ssl_certificate certs/\(cert ?? "missing").crt;
                    ssl_certificate_key certs/\(cert ?? "missing").key;
                \(toApp(proto: "https"))
                }
                """
        } else {
            http = """
                server {
                    listen \(HostAddress.withPort(address, settings.httpPort));
                    server_name \(names);
                \(challenge)
                \(toApp(proto: "http"))
                }
                """
        }
        return """
            # shipit: \(traffic.layout.deployTo)
            # names: \(names)
            # Written by shipit at every pre-flight of \(app): edit its shipit.yml, not this file.
            \(traffic.splitHTTPConf)\(slotServers)
            \(http)
            """
    }

    /// The front door's step: after the pre-flight (lock held), before the warm-up.
    /// `supervision`: the app's supervisor (its variables: the front door's unit is written for
    /// the same scope).
    /// `onlyWherePresent`: nothing on a host whose front door does not have the app yet.
    func script(
        host: String, app: String, cert: CertificatePair?, supervision: Supervision, onlyWherePresent: Bool = false
    ) -> HostScript {
        let vars: [(String, String)] =
            traffic.variables(host: host) + supervision.variables + [
                ("FRONT_MAIN", Self.mainConf), ("FRONT_APP", appConf(host: host, app: app, cert: cert?.name)),
                ("FRONT_LISTENS", listens(host: host).joined(separator: " ")),
                ("FRONT_NAMES", settings.names.joined(separator: " ")),
                ("CERT_NAME", cert?.name ?? ""), ("CERT_BYTES", String(cert?.certBytes ?? 0)),
                ("KEY_BYTES", String(cert?.keyBytes ?? 0)), ("ONLY_PRESENT", onlyWherePresent ? "1" : ""),
            ]
        return HostScript(
            .frontDoor, layout: traffic.layout, timeout: 120, variables: vars,
            uses: TrafficSwitch.functions + [
                TrafficSwitch.relink, Self.frontFiles, Self.frontUnit, Self.dropPairs, Self.frontReload,
            ],
            TrafficSwitch.sbinPath + Self.body)
    }

    /// `shipit proxy remove`: this app's servers out of the host's front door (the rest tested and
    /// reloaded), its certificate pairs and the default servers no app listens on any more; the
    /// front door stops when no app is left. Its slots keep running.
    func removeScript(host: String, supervision: Supervision) -> HostScript {
        HostScript(
            .frontDoor, layout: traffic.layout, timeout: 60,
            variables: traffic.variables(host: host) + supervision.variables,
            uses: TrafficSwitch.functions + [Self.dropPairs, Self.frontReload], TrafficSwitch.sbinPath + Self.removeBody
        )
    }

    static let removeBody: ScriptText =
        Supervision.detect
            + """

            mine="$NGX/apps/$APP_NAME.conf"
            [ -f "$mine" ] || { echo "front=absent"; exit 0; }
            read -r owner < "$mine"
            [ "$owner" = "# shipit: $D" ] || fail \(ScriptExit.frontDoorConflict) "the front door's $APP_NAME is another deploy's (${owner#\\# shipit: }): left as it is"
            front_lock
            mv -f "$mine" "$NGX/$APP_NAME.conf.removed" || fail \(ScriptExit.notWritable) "cannot move $mine"
            left=; for f in "$NGX"/apps/*.conf; do [ ! -f "$f" ] || left=1; done
            getv npid "$NGX/nginx.pid"
            if [ -z "$left" ]; then
              # No app left: the front door stops (QUIT: what it serves finishes, 10 s at most; a clean
              # exit, which its unit does not restart) and does not start at boot.
              ! supervised || svctl disable -q \(Self.unit) >/dev/null 2>&1
              if alive "$npid"; then
                kill -QUIT "$npid"
                i=0; while alive "$npid" && [ "$i" -lt 500 ]; do sleep 0.02; i=$((i + 1)); done
                ! alive "$npid" || kill -TERM "$npid"
              fi
              echo "front=stopped"
            else
              for p in "$NGX"/ports/*.conf; do
                [ -f "$p" ] || continue
                addr=$(awk '$1 == "listen" { print $2; exit }' "$p")
                # Compared as strings: an IPv6 address's brackets are no pattern.
                used=; for f in "$NGX"/apps/*.conf; do ! awk -v a="$addr" '$1 == "listen" && ($2 == a || $2 == a ";") { f = 1 } END { exit !f }' "$f" || used=1; done
                [ -n "$used" ] || mv -f "$p" "$p.removed"
              done
              if ! out=$(proxy_test 2>&1); then
                mv -f "$NGX/$APP_NAME.conf.removed" "$mine"
                for p in "$NGX"/ports/*.removed; do [ ! -f "$p" ] || mv -f "$p" "${p%.removed}"; done
                fail \(ScriptExit.proxyConfigInvalid) "the front door without this app does not pass nginx -t (nothing changed): $(short "$out")"
              fi
              # Done once the old workers are gone: no new request reaches this app's servers after.
              if alive "$npid" && ! out=$(front_reload wait 2>&1); then
                mv -f "$NGX/$APP_NAME.conf.removed" "$mine"
                for p in "$NGX"/ports/*.removed; do [ ! -f "$p" ] || mv -f "$p" "${p%.removed}"; done
                fail \(ScriptExit.proxyReloadFailed) "the front door did not take the change (nothing changed): $(short "$out")"
              fi
              rm -f "$NGX"/ports/*.removed
              echo "front=removed"
            fi
            rm -f "$NGX/$APP_NAME.conf.removed"
            drop_pairs ""
            """

    /// `drop_pairs KEEP`: this app's certificate pairs but KEEP removed. Only this app's: another
    /// app's name may start with this one's and a '-', so the rest must be the 12-digit hash.
    static let dropPairs = ShellFunction(
        "drop_pairs", requires: [],
        """
        drop_pairs() {
          for f in "$NGX/certs/$APP_NAME"-*.crt; do
            [ -f "$f" ] || continue; n=${f##*/}; n=${n%.crt}; rest=${n#"$APP_NAME"-}
            case "$rest" in *[!0-9a-f]* | "") continue ;; esac
            [ "${#rest}" -eq 12 ] && [ "$n" != "$1" ] || continue
            rm -f "$NGX/certs/$n.crt" "$NGX/certs/$n.key"
          done
          return 0
        }
        """)

    /// `front_reload [wait]`: a graceful reload that is checked. `nginx -s reload` returns once the
    /// signal is sent; a master that cannot apply the new config (a port taken, a certificate it
    /// cannot read) keeps the old one and only says so in its log. Done when a new worker runs;
    /// failed on an `[emerg]` line logged after the signal, or after 10 s. With `wait`, also until
    /// the old workers are gone (the drain time at most).
    static let frontReload = ShellFunction(
        "front_reload", requires: [TrafficSwitch.nginxWorkers, TrafficSwitch.workersGone],
        """
        front_reload() {
          fr_old=$(nginx_workers); fr_size=$(wc -c < "$NGX/error.log" 2>/dev/null) || fr_size=0
          "$NGINX" -s reload -e "$NGX/error.log" -p "$NGX/" -c "$NGX/nginx.conf" || return 1
          i=0; fr_new=
          while [ "$i" -lt 500 ]; do
            for p in $(nginx_workers); do
              seen=; for q in $fr_old; do [ "$p" != "$q" ] || seen=1; done
              [ -n "$seen" ] || fr_new=1
            done
            [ -z "$fr_new" ] || break
            if tail -c +"$((fr_size + 1))" "$NGX/error.log" 2>/dev/null | grep -m1 '\\[emerg\\]'; then return 1; fi
            sleep 0.02; i=$((i + 1))
          done
          [ -n "$fr_new" ] || { echo "the proxy did not take its new config within 10 s"; return 1; }
          [ "${1:-}" = wait ] || return 0
          workers_gone "$fr_old"
        }
        """)

    /// `front_lock`: the host-wide lock (fd 8, `flock` from util-linux) while the front door's
    /// files change; released when the script ends, however it ends.
    static let frontLock = ShellFunction(
        "front_lock", requires: [.fail],
        """
        front_lock() {
          command -v flock >/dev/null 2>&1 || fail \(ScriptExit.missingTool) "flock not found on this host (Debian: util-linux): the front door's lock needs it"
          exec 8>"$NGX/lock" && flock -w 60 8 || fail \(ScriptExit.locked) "another deploy has held this host's front door for 60 s ($NGX/lock)"
        }
        """)

    /// `front_files DIR`: the default server of each of this app's listens written into
    /// `DIR/ports/` (where missing: every app writes the same text).
    static let frontFiles = ShellFunction(
        "front_files", requires: [],
        """
        front_files() {
          for l in $FRONT_LISTENS; do
            kind=${l##*/}; addr=${l%/*}
            f="$1/ports/$(printf '%s' "$addr" | tr -c 'A-Za-z0-9.\\n' '_').conf"
            # A port an app's own proxy still holds: shared with it (SO_REUSEPORT) for the handover,
            # also where a stopped front door left its file.
            rp=; case " $HANDOVER " in *" $addr "*) rp=" reuseport" ;; esac
            [ ! -f "$f" ] || { [ -n "$rp" ] && ! grep -q ' reuseport;' "$f"; } || continue
            if [ "$kind" = https ]; then
              printf 'server {\\n    listen %s ssl http2 default_server%s;\\n    ssl_reject_handshake on;\\n}\\n' "$addr" "$rp" > "$f"
            else
              printf 'server {\\n    listen %s default_server%s;\\n    location / { return 404; }\\n}\\n' "$addr" "$rp" > "$f"
            fi
          done
        }
        """)

    static let body: ScriptText =
        """

        # Whether systemd supervises here, as the app's pre-flight found (its strategy may not
        # record it: the image strategy's containers are the engine's).
        """ + Supervision.detect
            + """

            [ -n "$HOME" ] && [ -d "$HOME" ] || fail \(ScriptExit.notWritable) "the deploy user has no home directory for the front door"
            command -v "$NGINX" >/dev/null 2>&1 || fail \(ScriptExit.missingTool) "nginx ('$NGINX') not found on this host: install it (Debian: apt-get install nginx) or set traffic.nginx"
            mkdir -p "$NGX/apps" "$NGX/ports" "$NGX/certs" "$NGX/tmp" "$NGX/acme" "$SOCKS" "$SLOTS" && chmod 700 "$NGX/certs" ||
              fail \(ScriptExit.notWritable) "cannot create $NGX"
            [ -f "$PROXY/maintenance.conf" ] || : > "$PROXY/maintenance.conf"
            front_lock
            mine="$NGX/apps/$APP_NAME.conf"
            if [ -n "$ONLY_PRESENT" ] && [ ! -f "$mine" ]; then cat >/dev/null; echo "front=absent"; exit 0; fi
            if [ -f "$mine" ]; then
              read -r owner < "$mine"
              [ "$owner" = "# shipit: $D" ] || fail \(ScriptExit.frontDoorConflict) "another app named $APP_NAME (${owner#\\# shipit: }) has a server in this host's front door: give this app another name"
            fi
            # What a step killed mid-write left (a key among them).
            rm -f "$NGX"/certs/*.part
            # A port other apps use for plain HTTP cannot be this app's HTTPS port, nor the reverse:
            # nginx would turn it into the other kind for every app on it.
            for l in $FRONT_LISTENS; do
              kind=${l##*/}; addr=${l%/*}
              f="$NGX/ports/$(printf '%s' "$addr" | tr -c 'A-Za-z0-9.\n' '_').conf"
              [ -f "$f" ] || continue
              if grep -q ' ssl ' "$f"; then has=https; else has=http; fi
              [ "$has" = "$kind" ] || fail \(ScriptExit.frontDoorConflict) "$addr is a $has port of this host's front door (other apps use it so): it cannot be this app's $kind port"
            done
            # A name another app serves: nginx would only warn and send it to one of the two.
            for f in "$NGX"/apps/*.conf; do
              [ -f "$f" ] && [ "$f" != "$mine" ] || continue
              theirs=$(sed -n '2s/^# names: //p' "$f")
              for n in $theirs; do
                for m in $FRONT_NAMES; do
                  [ "$n" != "$m" ] || fail \(ScriptExit.frontDoorConflict) "$m is served by another app in this host's front door (${f##*/})"
                done
              done
            done
            # The certificate pair (stdin: certificate, then key), under a name of its own.
            newpair=
            if [ -n "$CERT_NAME" ]; then
              c="$NGX/certs/$CERT_NAME"
              if [ -f "$c.crt" ] && [ -f "$c.key" ]; then
                cat >/dev/null
              else
                if ! (umask 077 && cat > "$c.part"); then rm -f "$c.part"; fail \(ScriptExit.fileNotPlaced) "cannot write $c (disk full?)"; fi
                got=$(wc -c < "$c.part")
                if [ "$got" -ne $((CERT_BYTES + KEY_BYTES)) ]; then
                  rm -f "$c.part"; fail \(ScriptExit.fileNotPlaced) "the certificate arrived incomplete ($got of $((CERT_BYTES + KEY_BYTES)) bytes)"
                fi
                (umask 077 && head -c "$CERT_BYTES" "$c.part" > "$c.crt.part" && tail -c "$KEY_BYTES" "$c.part" > "$c.key.part") &&
                  mv -f "$c.crt.part" "$c.crt" && mv -f "$c.key.part" "$c.key" || { rm -f "$c".*part; fail \(ScriptExit.fileNotPlaced) "cannot write $c.crt"; }
                rm -f "$c.part"
                newpair=1
              fi
            fi
            # The app's own proxy from before the front door (its pid in `own`), and the ports it
            # listens on too: the front door's new default servers there share them for the handover
            # below.
            HANDOVER=; own=
            getv opid "$PROXY/nginx.pid"
            if alive "$opid" && [ -f "$PROXY/nginx.conf" ]; then
              own=$opid
              for l in $FRONT_LISTENS; do a=${l%/*}; ! grep -q "^ *listen [^;]*:${a##*:}[ ;]" "$PROXY/nginx.conf" || HANDOVER="$HANDOVER $a"; done
            fi
            # The candidate: every other app's file as it is, this app's new one, the main config.
            rm -rf "$NGX/next" && mkdir -p "$NGX/next/apps" "$NGX/next/ports" || fail \(ScriptExit.notWritable) "cannot create $NGX/next"
            for f in "$NGX"/apps/*.conf "$NGX"/ports/*.conf; do
              [ -f "$f" ] && [ "$f" != "$mine" ] || continue
              g=${f#"$NGX"/}; cp -p "$f" "$NGX/next/$g"
            done
            printf '%s\\n' "$FRONT_APP" > "$NGX/next/apps/$APP_NAME.conf"
            # A file written before the front door's sockets moved to $SOCKS: its slot servers on the
            # old paths are kept for this one reload, so the old workers' requests still reach them
            # (nginx deletes a socket no server listens on any more); the next step drops them.
            legacy=
            if [ -f "$mine" ] && grep -q "^ *proxy_pass http://unix:$PROXY/active.sock:;" "$mine"; then
              legacy=1
              awk -v p="listen unix:$PROXY/slot-" '/^server \\{/ { buf = $0 "\\n"; inb = 1; keep = 0; next }
                inb { buf = buf $0 "\\n"; if (index($0, p)) keep = 1; if ($0 ~ /^}/) { inb = 0; if (keep) printf "%s", buf } }' \
                "$mine" >> "$NGX/next/apps/$APP_NAME.conf"
            fi
            front_files "$NGX/next"
            printf '%s\\n' "$FRONT_MAIN" | sed -e 's#^\\( *include \\)apps/#\\1next/apps/#' -e 's#^\\( *include \\)ports/#\\1next/ports/#' > "$NGX/next.conf"
            if ! out=$("$NGINX" -t -q -e "$NGX/error.log" -p "$NGX/" -c "$NGX/next.conf" 2>&1); then
              fail \(ScriptExit.proxyConfigInvalid) "this app's server does not pass nginx -t with the others of this host's front door (nothing changed): $(short "$out")"
            fi
            changed=; newports=
            if [ "$(cat "$NGX/nginx.conf" 2>/dev/null)" != "$FRONT_MAIN" ]; then
              printf '%s\\n' "$FRONT_MAIN" > "$NGX/nginx.conf.tmp" && mv -f "$NGX/nginx.conf.tmp" "$NGX/nginx.conf" || fail \(ScriptExit.notWritable) "cannot write $NGX/nginx.conf"
              changed=1
            fi
            for f in "$NGX"/next/ports/*.conf; do
              n=${f##*/}; [ ! -f "$NGX/ports/$n" ] || continue
              cp -p "$f" "$NGX/ports/.$n.tmp" && mv -f "$NGX/ports/.$n.tmp" "$NGX/ports/$n" || fail \(ScriptExit.notWritable) "cannot write $NGX/ports/$n"
              newports="$newports $n"; changed=1
            done
            rm -f "$mine.prev"
            if ! cmp -s "$NGX/next/apps/$APP_NAME.conf" "$mine"; then
              [ ! -f "$mine" ] || cp -p "$mine" "$mine.prev"
              mv -f "$NGX/next/apps/$APP_NAME.conf" "$mine.tmp" && mv -f "$mine.tmp" "$mine" || fail \(ScriptExit.notWritable) "cannot write $mine"
              changed=1
            fi
            rm -rf "$NGX/next" "$NGX/next.conf"
            # An app whose deploy_to is gone cannot serve (its sockets were there), and its file would
            # keep the proxy from starting: dropped, with its certificate pairs.
            others=
            for f in "$NGX"/apps/*.conf; do
              [ -f "$f" ] && [ "$f" != "$mine" ] || continue
              dir=$(sed -n '1s/^# shipit: //p' "$f")
              if [ -n "$dir" ] && [ ! -d "$dir" ]; then
                n=${f##*/}; rm -f "$f"; (APP_NAME=${n%.conf}; drop_pairs ""); changed=1; echo "front.dropped=$n"
              else
                others=1
              fi
            done
            # This app's files as they were, when the proxy does not take the new ones.
            undo_files() {
              if [ -f "$mine.prev" ]; then mv -f "$mine.prev" "$mine"; else rm -f "$mine"; fi
              for n in $newports; do rm -f "$NGX/ports/$n"; done
            }
            # The switch below reads which slot serves: a run that died between the two left them apart.
            getv active "$SLOTS/active"
            if [ -n "$active" ] && [ ! -L "$SOCKS/active.sock" ]; then point_to "$active" && echo "proxy.reconciled=$active"; fi
            # The app's own proxy from before hands the app over: the front door serves it first (its
            # slot sockets are in $SOCKS, apart from the own proxy's), then the own proxy quits. On
            # a port both use, both listen at once: the own proxy's socket is given SO_REUSEPORT by a
            # graceful reload (nginx sets it on the socket it has), the front door's new default
            # server listens with it, and the kernel hands each new connection to one of the two
            # until the own proxy closes its socket.
            if [ -n "$own" ]; then
              # Without tcp_migrate_req (Linux 5.14), connections queued at the own proxy's socket
              # when it closes are reset rather than handed to the front door's.
              if [ -n "$HANDOVER" ]; then getv mr /proc/sys/net/ipv4/tcp_migrate_req; echo "front.handover=${mr:-0}"; fi
              if [ -n "$HANDOVER" ] && ! grep -q ' reuseport;' "$PROXY/nginx.conf"; then
                cp -p "$PROXY/nginx.conf" "$PROXY/nginx.conf.moved" &&
                  sed '/^ *listen unix:/!s/^\\( *listen [^;]*\\);$/\\1 reuseport;/' "$PROXY/nginx.conf.moved" > "$PROXY/nginx.conf" ||
                  fail \(ScriptExit.notWritable) "cannot write $PROXY/nginx.conf"
                rm -f "$PROXY/nginx.conf.sum"
                if ! out=$(NGX=$PROXY front_reload 2>&1); then
                  mv -f "$PROXY/nginx.conf.moved" "$PROXY/nginx.conf"; undo_files
                  fail \(ScriptExit.proxyReloadFailed) "the app's own proxy could not share its port with the front door (nothing changed): $(short "$out")"
                fi
              fi
            fi
            # The own proxy's config as it was, where the front door does not take the app after all.
            own_back() {
              [ -f "$PROXY/nginx.conf.moved" ] || return 0
              mv -f "$PROXY/nginx.conf.moved" "$PROXY/nginx.conf"
              (NGX=$PROXY; front_reload >/dev/null 2>&1) || true
            }
            # Under a supervisor: the front door's unit, enabled (a proxy started before the host had
            # one serves on, and the next boot starts it supervised).
            if supervised; then
              front_unit
              svctl -q is-enabled \(Self.unit) 2>/dev/null || svctl enable -q \(Self.unit) 2>/dev/null ||
                echo "supervisor.warning=\(Self.unit) could not be enabled: it will not start at boot"
            fi
            getv npid "$NGX/nginx.pid"
            if alive "$npid"; then
              # With an own proxy to retire, the running front door must have the app's file even
              # when it did not change here (a run that died after writing it).
              # A new certificate is in place once the old workers, which serve the old one to
              # whoever they still accept, are gone.
              if [ -n "$changed$own" ] && ! out=$(front_reload ${newpair:+wait} 2>&1); then
                # The running proxy keeps the config it had; the files go back to it.
                undo_files; own_back
                fail \(ScriptExit.proxyReloadFailed) "the front door did not take this app's servers (taken back out): $(short "$out")"
              fi
              echo "front=running"
            elif [ -z "$others" ] && [ -z "$own" ] && [ -z "$active" ] && [ -L "$CURRENT" ]; then
              # The app runs in place, maybe on the front door's port: the front door starts in the
              # switch, once the release is warm on its slot and that app is stopped (adopt_port).
              echo "front=deferred"
            else
              if ! out=$(proxy_start 2>&1); then
                # Without this app's new files, the front door serves the other apps again.
                undo_files
                [ -z "$others" ] || proxy_start >/dev/null 2>&1
                own_back
                fail \(ScriptExit.proxyStartFailed) "the front door did not start: $(printf '%s' "$out" | grep -m1 emerg | tail -c 300) (is another process listening on its ports?)"
              fi
              echo "front=started"
            fi
            # The old paths' link, once no running nginx uses it (the step after the one that kept
            # the old slot servers).
            if [ -z "$legacy" ] && [ -z "$own" ] && [ -L "$PROXY/active.sock" ] && ! alive "$opid"; then rm -f "$PROXY/active.sock"; fi
            # The front door serves the app: its own proxy quits (QUIT: it closes its listening
            # sockets and finishes what it serves, 10 s at most, then TERM, then KILL) and does not
            # start again, supervised or not.
            if [ -n "$own" ]; then
              # A quitting worker closes its slot servers' sockets at once, before the requests it
              # accepted have reached them: its active link goes to the front door's slot server.
              [ -z "$active" ] || relink "front/slot-$active.sock" "$PROXY/active.sock"
              ! supervised || svctl disable -q "$UNIT_PREFIX-proxy.service" >/dev/null 2>&1
              kill -QUIT "$own" 2>/dev/null
              i=0; while alive "$own" && [ "$i" -lt 500 ]; do sleep 0.02; i=$((i + 1)); done
              if alive "$own"; then kill -TERM "$own" 2>/dev/null; i=0; while alive "$own" && [ "$i" -lt 100 ]; do sleep 0.02; i=$((i + 1)); done; fi
              ! alive "$own" || kill -KILL "$own" 2>/dev/null
              rm -f "$PROXY/nginx.conf" "$PROXY/nginx.pid" "$PROXY/nginx.conf.sum" "$PROXY/active.sock" "$PROXY"/slot-*.sock
              echo "proxy.moved=front"
            fi
            rm -f "$mine.prev" "$PROXY/nginx.conf.moved"
            [ -z "$changed" ] || echo "front.changed=1"
            # Certificate pairs of this app no longer named by its file.
            drop_pairs "$CERT_NAME"
            """
}
