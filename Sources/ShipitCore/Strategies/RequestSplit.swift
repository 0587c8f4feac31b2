import FoundationEssentials

/// Requests split between two slots by share, for request steps: the proxy's public server sends
/// each request to one of 100 bucket sockets (`split/b0.sock` … `split/b99.sock`), chosen by
/// nginx's `split_clients` from a key that keeps a client on one bucket (a cookie shipit sets, the
/// client's address, a header, or none). Each bucket is a link to `canary.sock` or `baseline.sock`,
/// which link to `active.sock` (the release that serves) outside a request step, and to the two
/// slots' logged servers during one. So a step starts with two renames and as many as its share
/// has buckets, ends with two, and nginx is never reloaded: the next request follows the links.
/// Pure text.
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

    /// nginx variable names are global to the http block the front door's apps share: the app's
    /// name in letters, digits and `_`, and a piece of its hash (`my-app` and `my.app` differ).
    var suffix: String {
        let plain = String(app.map { $0.isASCII && ($0.isLetter || $0.isNumber) ? $0 : "_" })
        let hash = (try? Digest.sha256Hex(Data(app.utf8)))?.prefix(6) ?? ""
        return plain + "_" + hash
    }
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

    /// `split_setup`: the buckets, all linked to `baseline.sock`, and `baseline.sock` and
    /// `canary.sock` linked to `active.sock` (so every bucket follows the serving slot); done once
    /// per host, before a config names the buckets.
    static let setup = ShellFunction(
        "split_setup", requires: [TrafficSwitch.relink],
        """
        split_setup() {
          [ -d "$SOCKS/split" ] || mkdir -p "$SOCKS/split" || return 1
          [ -L "$SOCKS/baseline.sock" ] || relink active.sock "$SOCKS/baseline.sock" || return 1
          [ -L "$SOCKS/canary.sock" ] || relink active.sock "$SOCKS/canary.sock" || return 1
          [ ! -f "$SOCKS/split/linked" ] || return 0
          i=0
          while [ "$i" -lt \(buckets) ]; do relink ../baseline.sock "$SOCKS/split/b$i.sock" || return 1; i=$((i + 1)); done
          echo 0 > "$SOCKS/split/linked"; echo 0 > "$SOCKS/split/share"
        }
        """)

    /// `split_share PERCENT NEW OLD`: the first PERCENT buckets linked to `canary.sock`, the
    /// others to `baseline.sock`, and those two to slot NEW's and slot OLD's logged servers. Only
    /// buckets that change are renamed (one by one, each atomic). Buckets leave the canary before
    /// `canary.sock` moves, and join it after, so no moment gives the new release more than the
    /// larger of the two shares. `split/linked` counts the buckets that may point at the canary
    /// (raised before they do), `split/share` is the share in force.
    static let share = ShellFunction(
        "split_share", requires: [.getValue, TrafficSwitch.relink, setup],
        """
        split_share() {
          split_setup || return 1
          getv linked "$SOCKS/split/linked"; [ -n "$linked" ] || linked=\(buckets)
          i=$1
          while [ "$i" -lt "$linked" ]; do relink ../baseline.sock "$SOCKS/split/b$i.sock" || return 1; i=$((i + 1)); done
          [ "$linked" -le "$1" ] || { linked=$1; echo "$linked" > "$SOCKS/split/linked"; }
          relink "slot-$2.g.sock" "$SOCKS/canary.sock" && relink "slot-$3.g.sock" "$SOCKS/baseline.sock" || return 1
          echo "$1" > "$SOCKS/split/share"
          [ "$linked" -ge "$1" ] || echo "$1" > "$SOCKS/split/linked"
          i=$linked
          while [ "$i" -lt "$1" ]; do relink ../canary.sock "$SOCKS/split/b$i.sock" || return 1; i=$((i + 1)); done
        }
        """)

    /// `split_on`: whether a request step's split is in place (either link off `active.sock`),
    /// read from the links themselves, not from a file a killed run may not have written.
    static let on = ShellFunction(
        "split_on", requires: [],
        """
        split_on() {
          [ -d "$SOCKS/split" ] || return 1
          for l in canary baseline; do
            [ ! -L "$SOCKS/$l.sock" ] || [ "$(readlink "$SOCKS/$l.sock")" = active.sock ] || return 0
          done
          return 1
        }
        """)

    /// `split_quiet`: a split left in place (a paused rollout) keeps its share but goes through the
    /// slots' plain servers, so nothing is logged until the next step; the log is emptied.
    static let quiet = ShellFunction(
        "split_quiet", requires: [TrafficSwitch.relink],
        """
        split_quiet() {
          for l in canary baseline; do
            t=$(readlink "$SOCKS/$l.sock" 2>/dev/null) || continue
            case $t in *.g.sock) relink "${t%.g.sock}.sock" "$SOCKS/$l.sock" || return 1 ;; esac
          done
          : > "$GOLDEN_LOG"
        }
        """)

    /// `split_back`: every request to the serving slot at once: `canary.sock`, then
    /// `baseline.sock`, linked to `active.sock` again (two renames; the buckets stay as they are).
    static let back = ShellFunction(
        "split_back", requires: [TrafficSwitch.relink],
        """
        split_back() {
          [ -d "$SOCKS/split" ] || return 0
          relink active.sock "$SOCKS/canary.sock" && relink active.sock "$SOCKS/baseline.sock" || return 1
          echo 0 > "$SOCKS/split/share"
        }
        """)
}
