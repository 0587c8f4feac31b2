/// Request steps on the host (docs/rollout.md, "Request steps"): the proxy's buckets set up before
/// its config names them, a share of them pointed at the new release's slot, the proxy's records
/// of both slots read back, and the way back. Every script here changes links only: no reload.
extension TrafficSwitch {
    /// The file the slots' logged servers write, truncated when a request step starts.
    var goldenLog: String { layout.proxy + "/golden.log" }

    /// A slot's server (or its logged twin, `slot-PORT.g.sock`, with a split). `extraHeaders`:
    /// the front door's forwarded protocol.
    func slotServers(host: String, socketDir: String, forwardedFor: String, extra: String = "") -> String {
        settings.slots.flatMap { slot -> [String] in
            func server(_ name: String, _ logged: String) -> String {
                """
                    server {
                        listen unix:\(socketDir)/\(name);
                        \(logged)location / {
                            add_header \(Self.slotHeader) \(slot) always;
                            proxy_pass http://\(bind(host)):\(slot);
                            proxy_http_version 1.1;
                            proxy_set_header Connection "";
                            proxy_set_header Host \(forwardedFor);
                            proxy_set_header X-Forwarded-For $http_x_forwarded_for;
                            \(extra)proxy_connect_timeout 2s;
                        }
                    }
                """
            }
            var out = [server("slot-\(slot).sock", "")]
            if let split { out.append(server("slot-\(slot).g.sock", split.loggedLines(slot: slot, log: goldenLog))) }
            return out
        }.joined(separator: "\n")
    }

    /// The public location's target: the buckets with a split, else `active.sock`.
    func publicProxyPass(socketDir: String) -> String {
        guard let split else { return "proxy_pass http://unix:\(socketDir)/active.sock:;" }
        let cookie = split.locationConf.isEmpty ? "" : split.locationConf + "\n            "
        return cookie + split.proxyPass(socketDir: socketDir)
    }

    /// The http-level lines a split needs (its log format, key and buckets).
    var splitHTTPConf: String { split.map { $0.logFormatConf + $0.httpConf } ?? "" }

    /// Pre-flight, before the proxy's config is written: the buckets exist before a config names
    /// them (all on `active.sock`). A split a run left behind (it died during a request step) is
    /// sent back to the serving slot, unless this run is that paused rollout resuming.
    static let splitPreflight: ScriptText = """
        if [ -n "$SPLIT" ]; then
          if [ ! -f "$SOCKS/split/linked" ]; then
            split_setup || fail \(ScriptExit.notWritable) "cannot create the request split's links in $SOCKS/split"
          elif [ -z "$RESUMING" ] && split_on; then
            getv share "$SOCKS/split/share"
            split_back || fail \(ScriptExit.switchFailed) "cannot send the request split an earlier run left back to the serving slot"
            echo "split.reset=${share:-?}"
          fi
        fi
        share=0; if split_on; then getv share "$SOCKS/split/share"; fi; echo "split.share=${share:-0}"
        """

    /// A request step on one host: `share` % of the requests to `slot` (running `releaseID`), the
    /// rest to the slot serving now; the proxy's records start afresh.
    func splitRequests(host: String, releaseID: String, slot: Int, share: Int, timeout: Double?) -> HostScript {
        HostScript(
            .switch, layout: layout, timeout: timeout,
            variables: variables(host: host) + [("ID", releaseID), ("SLOT", String(slot)), ("SHARE", String(share))],
            uses: Self.functions,
            Self.sbinPath
                + """

                getv rel "$SLOTS/$SLOT.release"; getv pid "$SLOTS/$SLOT.pid"
                [ "$rel" = "$ID" ] && alive "$pid" || fail \(ScriptExit.slotNotRunning) "release $ID is not running on slot $SLOT"
                getv act "$SLOTS/active"
                [ -n "$act" ] && [ "$act" != "$SLOT" ] || fail \(ScriptExit.slotNotRunning) "no other slot serves here to split the requests with"
                : > "$GOLDEN_LOG"
                split_share "$SHARE" "$SLOT" "$act" || { split_back; fail \(ScriptExit.switchFailed) "cannot split the requests (links in $SOCKS/split)"; }
                echo "split.share=$SHARE"; echo "slot=$SLOT"
                """)
    }

    /// A paused request step: its share stays, its logging stops (`split_quiet`).
    func splitQuiet(host: String, timeout: Double?) -> HostScript {
        HostScript(
            .switch, layout: layout, timeout: timeout, variables: variables(host: host), uses: Self.functions,
            Self.sbinPath
                + """

                split_quiet || fail \(ScriptExit.switchFailed) "cannot move the paused split off the logged servers"
                echo "split.quiet=1"
                """)
    }

    /// A request step undone: every request to the slot serving (`active`) at once.
    func splitBack(host: String, timeout: Double?) -> HostScript {
        HostScript(
            .switch, layout: layout, timeout: timeout, variables: variables(host: host), uses: Self.functions,
            Self.sbinPath
                + """

                getv act "$SLOTS/active"
                [ -n "$act" ] || fail \(ScriptExit.slotNotRunning) "no slot serves here"
                split_back || fail \(ScriptExit.switchFailed) "cannot send the split requests back to slot $act"
                echo "split.share=0"; echo "slot=$act"
                """)
    }

    /// The proxy's records of this request step, aggregated on the host (`GoldenSignals.parse`),
    /// and which slot serves (the other is the canary).
    func goldenSample(host: String, timeout: Double?) -> HostScript {
        HostScript(
            .check, layout: layout, timeout: timeout, variables: variables(host: host),
            uses: [.getValue, GoldenSignals.collect],
            """
            getv act "$SLOTS/active"; echo "split.active=$act"
            golden_collect "$GOLDEN_LOG"
            """)
    }
}
