/// Requests split between two slots by share, for request steps: the proxy's public server sends
/// each request to one of 100 bucket sockets (`split/b0.sock` … `split/b99.sock`), chosen by
/// nginx's `split_clients` from a key that keeps a client on one bucket (a cookie shipit sets, the
/// client's address, a header, or none). Each bucket is a link to `active.sock` (the release that
/// serves) or to `canary.sock` (a link to the new release's slot), so the share changes by
/// renaming links, with no reload: the next request follows them. Sending the canary's share back
/// is one rename (`canary.sock` pointed at the serving slot). Pure text.
public struct RequestSplit: Sendable, Equatable {
    /// How a client is kept on one release during a step.
    public enum Sticky: Sendable, Equatable {
        /// A cookie (`shipit_canary`) set on the first answer; a client without cookies is split
        /// per request.
        case cookie
        /// The client's address (`$remote_addr`): every client behind one NAT lands together.
        case address
        /// A request header's value (a user or session id the client sends).
        case header(String)
        /// Each request on its own.
        case none
    }

    public static let cookieName = "shipit_canary"
    public static let buckets = 100

    public let app: String
    public let sticky: Sticky

    public init(app: String, sticky: Sticky) {
        self.app = app
        self.sticky = sticky
    }

    /// nginx variable names are global to the http block the front door's apps share.
    var suffix: String { String(app.map { $0.isLetter || $0.isNumber ? $0 : "_" }) }
    public var bucketVariable: String { "$shipit_bucket_\(suffix)" }
    var setCookieVariable: String { "$shipit_setcookie_\(suffix)" }

    /// The http-level part: the key, the buckets, the cookie to set.
    public var httpConf: String {
        let key: String
        var maps = ""
        switch sticky {
        case .cookie:
            key = "$shipit_key_\(suffix)"
            maps = """
                map $cookie_\(Self.cookieName) \(key) { "" $request_id; default $cookie_\(Self.cookieName); }
                map $cookie_\(Self.cookieName) \(setCookieVariable) { "" "\(Self.cookieName)=$request_id; Path=/; HttpOnly; SameSite=Lax"; default ""; }

                """
        case .address: key = "$remote_addr"
        case .header(let name):
            key = "$shipit_key_\(suffix)"
            let v = "$http_" + name.lowercased().map { $0 == "-" ? "_" : $0 }
            maps = "map \(String(v)) \(key) { \"\" $request_id; default \(String(v)); }\n"
        case .none: key = "$request_id"
        }
        let lines = (0..<(Self.buckets - 1)).map { "    1% b\($0);" } + ["    * b\(Self.buckets - 1);"]
        return maps + "split_clients \"\(key)\" \(bucketVariable) {\n" + lines.joined(separator: "\n") + "\n}\n"
    }

    /// The public location's target, in place of `active.sock`.
    public func proxyPass(socketDir: String) -> String {
        "proxy_pass http://unix:\(socketDir)/split/\(bucketVariable).sock:;"
    }

    /// The public location's extra lines: the cookie, set where the client had none.
    public var locationConf: String {
        sticky == .cookie ? "add_header Set-Cookie \(setCookieVariable);" : ""
    }

    /// The log format of the slots' logged servers, named per app (the front door's apps share
    /// one http block).
    public var logFormatName: String { "shipit_golden_\(suffix)" }

    /// The http-level log format line.
    public var logFormatConf: String { "log_format \(logFormatName) '\(GoldenSignals.logFormat)';\n" }

    /// A slot's logged server's extra lines: the slot's port in each record, the records in `log`.
    /// The logged servers (`slot-PORT.g.sock`) serve only while a request step sends requests to
    /// them, so nothing is written between deploys.
    public func loggedLines(slot: Int, log: String) -> String {
        "set $shipit_slot \(slot);\n        access_log \(log) \(logFormatName);\n"
    }

    /// `split_share PERCENT NEW OLD`: PERCENT of the buckets to slot NEW, the rest to slot OLD,
    /// both through their logged servers (`canary.sock`, `baseline.sock`); `split_share 0` sends
    /// every bucket back to `active.sock`. Buckets that change are renamed into place one by one
    /// (each is atomic); the current share is kept in `split/share`.
    static let share = ShellFunction(
        "split_share", requires: [.getValue, TrafficSwitch.relink],
        """
        split_share() {
          [ -d "$SOCKS/split" ] || mkdir -p "$SOCKS/split" || return 1
          getv was "$SOCKS/split/share"; [ -n "$was" ] || was=-1
          rest=active
          if [ "$1" -gt 0 ]; then
            relink "slot-$2.g.sock" "$SOCKS/canary.sock" || return 1
            relink "slot-$3.g.sock" "$SOCKS/baseline.sock" || return 1
            rest=baseline
          fi
          [ "$was" != "$1" ] || return 0
          # Every bucket when the rest move between active.sock and baseline.sock.
          all=; { [ "$was" -le 0 ] || [ "$1" -eq 0 ]; } && all=1
          i=0
          while [ "$i" -lt \(buckets) ]; do
            want=$rest; [ "$i" -ge "$1" ] || want=canary
            if [ -n "$all" ] || { [ "$i" -lt "$1" ] && [ "$i" -ge "$was" ]; } || { [ "$i" -ge "$1" ] && [ "$i" -lt "$was" ]; }; then
              relink "../$want.sock" "$SOCKS/split/b$i.sock" || return 1
            fi
            i=$((i + 1))
          done
          printf '%s\\n' "$1" > "$SOCKS/split/share"
        }
        """)

    /// `split_back SLOT`: every request to slot SLOT at once (one rename each of `canary.sock` and
    /// `baseline.sock`), then the buckets back to `active.sock` one by one.
    static let back = ShellFunction(
        "split_back", requires: [share],
        """
        split_back() {
          [ ! -L "$SOCKS/canary.sock" ] || relink "slot-$1.sock" "$SOCKS/canary.sock" || return 1
          [ ! -L "$SOCKS/baseline.sock" ] || relink "slot-$1.sock" "$SOCKS/baseline.sock" || return 1
          split_share 0
        }
        """)
}
