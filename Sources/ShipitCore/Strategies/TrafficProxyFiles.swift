/// The managed nginx's config and the system nginx's upstream block, and retiring the managed
/// proxy when the traffic switch is turned off.
extension TrafficSwitch {
    /// The managed nginx's whole config. Paths come from the layout (validated: no spaces, no
    /// quotes, no semicolons).
    ///
    /// The switch needs no reload: each slot has a server of its own on a unix socket
    /// (`slot-PORT.sock`, adding the slot header), and the public server proxies to
    /// `active.sock`, a symlink to one of them. nginx connects to that path for every request, so
    /// renaming the link moves every new request at once, while requests in flight finish on the
    /// slot they started on. (A reload would let the old workers accept for another 100 ms.)
    public func nginxConf(host: String) -> String {
        let p = layout.proxy
        let slotServers = slotServers(host: host, socketDir: p, forwardedFor: "$shipit_host")
        return """
            # Written by shipit at every pre-flight: edit shipit.yml, not this file.
            # Run by: \(settings.nginx)
            worker_processes 1;
            pid \(p)/nginx.pid;
            error_log \(p)/error.log warn;
            events { worker_connections 1024; }
            http {
                access_log off;
                default_type text/plain;
                client_body_temp_path \(p)/tmp/body;
                proxy_temp_path \(p)/tmp/proxy;
                fastcgi_temp_path \(p)/tmp/fastcgi;
                uwsgi_temp_path \(p)/tmp/uwsgi;
                scgi_temp_path \(p)/tmp/scgi;
                # The client's Host (an HTTP/1.0 client may send none: the next hop speaks HTTP/1.1).
                map $http_host $shipit_host { "" "\(HostAddress.withPort(health.reachedAddress(of: host), publicPort))"; default $http_host; }
            \(splitHTTPConf)\(slotServers)
                server {
                    listen \(publicListen(host));
                    location / {
                        include \(p)/maintenance.conf;
                        \(publicProxyPass(socketDir: p))
                        proxy_http_version 1.1;
                        proxy_set_header Connection "";
                        proxy_set_header Host $shipit_host;
                        proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
                        proxy_connect_timeout 2s;
                    }
                }
            }
            """
    }

    /// The upstream block pointing at `slot` (nil: no release yet; the proxy answers 502).
    public func upstream(host: String, slot: Int?) -> String {
        let server = slot.map { "server \(bind(host)):\($0);" } ?? "server \(bind(host)):\(settings.slots[0]) down;"
        return "upstream shipit_app {\n    \(server)\n    keepalive 16;\n}\n"
    }

    /// The switch turned off: a managed proxy left by earlier deploys holds the public port. Before
    /// a release restarts in place there (`before`), the proxy gets QUIT: its master closes the
    /// listening socket at once while the workers finish the requests in flight (the master itself
    /// takes seconds to exit, which need not be waited for); the release starts as soon as the
    /// port is free. After it started (`after`), the apps on the slots stop. Builtins only unless
    /// there is a proxy to retire.
    /// `address`: what the public listener binds (`0.0.0.0`: every address), so the wait watches
    /// this host's listener alone where hosts share a network.
    static func retireProxy(port: Int?, address: String?) -> (before: ScriptText, after: ScriptText) {
        let filter = port.map { p in
            address.map { $0 == "0.0.0.0" ? "sport = :\(p)" : "sport = :\(p) and src \(HostAddress.bracketed($0))" }
                ?? "sport = :\(p)"
        }
        // QUIT lets the workers finish what they serve, but under load a worker can hold the
        // listening socket for seconds: after 0.3 s, TERM (fast shutdown) frees the port.
        let waitFree =
            filter.map {
                """
                    held() { command -v ss >/dev/null 2>&1 && ss -Hltn "( \($0) )" 2>/dev/null | grep -q .; }
                    if command -v ss >/dev/null 2>&1; then
                      i=0; while [ "$i" -lt 15 ] && held; do sleep 0.02; i=$((i + 1)); done
                      if held; then kill -TERM "$npid" 2>/dev/null; i=0; while [ "$i" -lt 100 ] && held; do sleep 0.02; i=$((i + 1)); done; fi
                    else
                      # Nothing to watch the port with: the same schedule, blind.
                      sleep 0.3; kill -TERM "$npid" 2>/dev/null; sleep 0.1
                    fi
                """
            } ?? ""
        let before = """
            retired=
            if [ -f "$PROXY/nginx.pid" ] || [ -f "$SLOTS/active" ]; then
              retired=1
              # Under a supervisor: neither the proxy nor a slot starts at boot any more (their
              # processes stop below; a stop by signal is no failure, so no unit restarts them).
              if supervised; then
                svctl disable -q "$UNIT_PREFIX-proxy.service" >/dev/null 2>&1
                for pf in "$SLOTS"/*.pid; do [ -f "$pf" ] || continue; s=${pf##*/}; svctl disable -q "$UNIT_PREFIX-slot@${s%.pid}.service" >/dev/null 2>&1; done
              fi
              read -r t0 _ < /proc/uptime
              npid=; [ -f "$PROXY/nginx.pid" ] && read -r npid < "$PROXY/nginx.pid" 2>/dev/null
              if [ -n "$npid" ] && kill -0 "$npid" 2>/dev/null; then
                kill -QUIT "$npid" 2>/dev/null
            \(waitFree)
              fi
              rm -f "$PROXY/nginx.pid" "$PROXY/active.sock"
            fi
            """
        // The slots stop once the quitting proxy is gone (bounded: 30 s), so the requests its
        // workers still finish are not cut (a 502): a detached wait, as the standby timer is.
        let after = """
            if [ -n "$retired" ]; then
              read -r t1 _ < /proc/uptime
              sp_all=
              for pf in "$SLOTS"/*.pid; do
                [ -f "$pf" ] || continue
                read -r sp < "$pf" 2>/dev/null && [ -n "$sp" ] && sp_all="$sp_all $sp"
                rm -f "$pf"
              done
              if [ -n "$sp_all" ]; then
                setsid sh -c 'i=0; while [ -n "$1" ] && kill -0 "$1" 2>/dev/null && [ "$i" -lt 300 ]; do sleep 0.1; i=$((i + 1)); done; shift; kill -TERM "$@" 2>/dev/null' \\
                  retire-slots "${npid:-}" $sp_all </dev/null >/dev/null 2>&1 &
              fi
              rm -f "$SLOTS/active" "$SLOTS/upstream.slot" "$SLOTS"/*.release
              echo "proxy.retired.ms=$(( (${t1%.*}${t1#*.} - ${t0%.*}${t0#*.}) * 10 ))"
            fi
            """
        return (ScriptText(before), ScriptText(after))
    }
}
