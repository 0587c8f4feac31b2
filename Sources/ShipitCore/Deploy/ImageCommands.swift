import Foundation

/// Pure builders for the image strategy (docker or podman). Same shape as `SymlinkCommands`: one
/// remote script per step, every value shell-quoted, facts reported as `key=value` lines.
///
/// On the host: containers are named `<app>-<release>` where a release id is `<tag>-<digest12>`;
/// `.shipit/image-current` holds the running release, `.shipit/image-releases` one line per
/// release ever created here (`<id> <name>@<digest>`, oldest first); the lock, failed marks and
/// history.jsonl are shared with the symlink strategy.
public struct ImageCommands: Sendable {
    public let layout: HostLayout
    public let app: String
    public let image: ImageSettings
    public let timeout: Double

    public init(layout: HostLayout, app: String, image: ImageSettings, timeout: Double = 600) {
        self.layout = layout
        self.app = app
        self.image = image
        self.timeout = timeout
    }

    /// `<tag>-<first 12 hex of the digest>`: readable, unique per content, a valid identifier.
    public static func releaseID(tag: String, digest: String) -> String {
        let hex = digest.hasPrefix("sha256:") ? String(digest.dropFirst(7)) : digest
        return "\(tag)-\(hex.prefix(12))"
    }

    private func script(_ vars: [(String, String)], _ body: String) -> RemoteCommand {
        let base: [(String, String)] = [("D", layout.deployTo), ("APP", app), ("E", image.engine.map(ShellQuote.quote).joined(separator: " "))]
        return RemoteCommand(script: "set -u\n" + SymlinkCommands.assign(base + vars) + "\n" + Self.helpers + "\n" + body, timeout: timeout)
    }

    /// `eng` runs the engine (its words split on purpose); `fail` prints an error line and exits.
    static let helpers = """
    eng() { eval "$E" '"$@"'; }
    fail() { code=$1; shift; echo "error=$*"; exit "$code"; }
    short() { printf '%s' "$1" | tail -c 400 | tr '\\n' ' '; }
    """

    /// The `create` arguments: labels, published port on the host's own address, env, env file, volumes.
    public func createArguments(bind: String, envFile: String?) -> String {
        var args = ["--label", "shipit.app=\(app)", "-p", "\(bind):\(image.port):\(image.containerPort)"]
        for (k, v) in image.env.sorted(by: { $0.key < $1.key }) { args += ["-e", "\(k)=\(v)"] }
        if let envFile { args += ["--env-file", envFile] }
        for v in image.volumes { args += ["-v", v] }
        return ShellQuote.join(args)
    }

    /// Creates the release's container if it is not there, from the image already on the host
    /// (never pulls: a rollback must not depend on the registry), and records the release.
    static func ensureContainer(createArgs: String) -> String {
        """
        NAME="$APP-$ID"
        if ! eng container inspect "$NAME" >/dev/null 2>&1; then
          eng image inspect "$REF" >/dev/null 2>&1 || fail 33 "image $REF is not on this host any more"
          out=$(eng create --name "$NAME" --label "shipit.release=$ID" --label "shipit.digest=${REF##*@}" \(createArgs) "$REF" 2>&1) || fail 34 "create failed: $(short "$out")"
        fi
        grep -qx "$ID $REF" "$D/.shipit/image-releases" 2>/dev/null || printf '%s %s\\n' "$ID" "$REF" >> "$D/.shipit/image-releases"
        """
    }

    /// Pre-flight: writable deploy_to, engine runs, lock, current release; then `pull` (the image
    /// on every host before any switch) and its digest.
    public func preflight(lockInfo: String, lockWaitSeconds: Int, staleHolders: [String], pull: String?) -> RemoteCommand {
        script([("LOCKINFO", lockInfo), ("LOCKWAIT", String(lockWaitSeconds * 10)), ("STALE", staleHolders.joined(separator: "\n")),
                ("PULL", pull ?? ""), ("NAMEONLY", image.name), ("TLS", image.tlsVerify ? "" : "--tls-verify=false")], """
        mkdir -p "$D/.shipit/failed" "$D/shared" 2>/dev/null && [ -w "$D" ] || fail 10 "$D is not writable by $(id -un)"
        set -- $E
        command -v "$1" >/dev/null 2>&1 || fail 11 "container engine '$1' not found"
        \(SymlinkCommands.lockFunction)
        take_lock
        echo "current=$(cat "$D/.shipit/image-current" 2>/dev/null || true)"
        if [ -n "$PULL" ]; then
          out=$(eng pull $TLS "$PULL" 2>&1) || fail 13 "pull $PULL failed: $(short "$out")"
          ref=$(eng image inspect --format '{{range .RepoDigests}}{{println .}}{{end}}' "$PULL" 2>/dev/null | grep -m1 "^$NAMEONLY@sha256:") || fail 14 "no digest for $PULL"
          echo "digest=${ref##*@}"
        fi
        """)
    }

    /// The "upload" step of the image strategy: the release's container, created (not started).
    public func create(releaseID: String, reference: String, bind: String, envFile: String?) -> RemoteCommand {
        script([("ID", releaseID), ("REF", reference)], Self.ensureContainer(createArgs: createArguments(bind: bind, envFile: envFile)) + "\necho \"created=$ID\"")
    }

    /// Switch: (re)create the target's container if needed, stop every other running container of
    /// the app, start the target, record it as current.
    public func switchTo(releaseID: String, reference: String?, bind: String, envFile: String?, historyLine: String) -> RemoteCommand {
        script([("ID", releaseID), ("REF", reference ?? ""), ("HIST", historyLine), ("STOPT", String(image.stopTimeout))], """
        if [ -z "$REF" ]; then REF=$(awk -v id="$ID" '$1 == id { r = $2 } END { print r }' "$D/.shipit/image-releases" 2>/dev/null); fi
        [ -n "$REF" ] || fail 30 "release $ID is not on this host"
        prev=$(cat "$D/.shipit/image-current" 2>/dev/null || true)
        echo "previous=$prev"
        # Few engine calls: each costs the host a process start (rootless podman: ~0.1 s of CPU).
        [ -z "$prev" ] || [ "$prev" = "$ID" ] || eng stop -t "$STOPT" "$APP-$prev" >/dev/null 2>&1 || true
        if ! out=$(eng start "$APP-$ID" 2>&1); then
          \(Self.ensureContainer(createArgs: createArguments(bind: bind, envFile: envFile)).replacingOccurrences(of: "\n", with: "\n  "))
          out=$(eng start "$NAME" 2>&1) || fail 32 "start $NAME failed: $(short "$out")"
        fi
        grep -qx "$ID $REF" "$D/.shipit/image-releases" 2>/dev/null || printf '%s %s\\n' "$ID" "$REF" >> "$D/.shipit/image-releases"
        printf '%s\\n' "$ID" > "$D/.shipit/image-current.tmp" && mv "$D/.shipit/image-current.tmp" "$D/.shipit/image-current" || fail 31 "cannot record the switch"
        echo "switched=$ID"
        printf '%s\\n' "$HIST" >> "$D/.shipit/history.jsonl" || true
        rm -f "$D/.shipit/failed/$ID"
        """)
    }

    public func switchTo(releaseID: String, start: String?, env: [(String, String)], historyLine: String) -> RemoteCommand {
        let bind = env.first { $0.0 == "SHIPIT_BIND" }?.1 ?? "127.0.0.1"
        let envFile = env.first { $0.0 == "SHIPIT_ENV_FILE" }?.1
        return switchTo(releaseID: releaseID, reference: nil, bind: bind, envFile: envFile, historyLine: historyLine)
    }

    /// After success: keep the newest `keep_images` releases (never current or the rollback target),
    /// remove older containers and images, release the lock.
    public func finish(keep: Int, previous: String?, holder: String, historyLine: String?) -> RemoteCommand {
        script([("KEEP", String(image.keepImages)), ("PREV", previous ?? ""), ("HOLDER", holder), ("HIST", historyLine ?? "")], """
        \(SymlinkCommands.appendHistory)
        cur=$(cat "$D/.shipit/image-current" 2>/dev/null || true)
        if [ -f "$D/.shipit/image-releases" ]; then
          total=$(wc -l < "$D/.shipit/image-releases")
          n=0
          : > "$D/.shipit/image-releases.new"
          while read -r id ref; do
            n=$((n + 1))
            if [ $((total - n)) -lt "$KEEP" ] || [ "$id" = "$cur" ] || [ "$id" = "$PREV" ]; then
              printf '%s %s\\n' "$id" "$ref" >> "$D/.shipit/image-releases.new"
            else
              eng rm -f "$APP-$id" >/dev/null 2>&1 || true
              eng rmi "$ref" >/dev/null 2>&1 || true
              rm -f "$D/.shipit/failed/$id"
              echo "pruned=$id"
            fi
          done < "$D/.shipit/image-releases"
          mv "$D/.shipit/image-releases.new" "$D/.shipit/image-releases"
        fi
        \(SymlinkCommands.unlockBody)
        """)
    }

    /// A release that went live and failed stays (stopped, marked failed) for inspection; one that
    /// never went live loses its container. Then the lock is released.
    public func abandon(releaseID: String, keepForInspection: Bool, holder: String, historyLine: String?) -> RemoteCommand {
        script([("ID", releaseID), ("HOLDER", holder), ("HIST", historyLine ?? ""), ("KEEPIT", keepForInspection ? "1" : "")], """
        \(SymlinkCommands.appendHistory)
        if [ -n "$KEEPIT" ]; then
          eng container inspect "$APP-$ID" >/dev/null 2>&1 && : > "$D/.shipit/failed/$ID"
        elif [ "$(cat "$D/.shipit/image-current" 2>/dev/null)" != "$ID" ]; then
          eng rm -f "$APP-$ID" >/dev/null 2>&1 || true
        fi
        \(SymlinkCommands.unlockBody)
        """)
    }

    public func unlock(holder: String, historyLine: String?) -> RemoteCommand {
        script([("HOLDER", holder), ("HIST", historyLine ?? "")], SymlinkCommands.appendHistory + "\n" + SymlinkCommands.unlockBody)
    }

    /// Releases whose image is still on the host (one engine call for all), oldest first.
    static let inventoryBody = """
    echo "current=$(cat "$D/.shipit/image-current" 2>/dev/null || true)"
    if [ -f "$D/.shipit/image-releases" ]; then
      present=$(eng images --digests --format '{{.Repository}}@{{.Digest}}' 2>/dev/null)
      while read -r id ref; do
        printf '%s\\n' "$present" | grep -qxF "$ref" && { echo "release=$id"; echo "ref.$id=$ref"; }
      done < "$D/.shipit/image-releases"
    fi
    [ -d "$D/.shipit/failed" ] && ls -1 "$D/.shipit/failed" | sed 's/^/failed=/'
    [ -f "$D/.shipit/lock" ] && sed 's/^/lock./' "$D/.shipit/lock"
    """

    public func inventory() -> RemoteCommand {
        script([], Self.inventoryBody + "\ntrue")
    }

    /// The inventory, whether the current release's container runs, and history lines.
    public func inspect(verify: Bool, historyLines: Int) -> RemoteCommand {
        script([("HLINES", String(historyLines))], Self.inventoryBody + """

        cur=$(cat "$D/.shipit/image-current" 2>/dev/null || true)
        if [ -n "$cur" ]; then
          st=$(eng container inspect --format '{{.State.Status}}' "$APP-$cur" 2>/dev/null || echo missing)
          echo "container=$st"
        fi
        if [ "$HLINES" -gt 0 ] && [ -f "$D/.shipit/history.jsonl" ]; then tail -n "$HLINES" "$D/.shipit/history.jsonl" | sed 's/^/history=/'; fi
        true
        """)
    }

    public func forceUnlock() -> RemoteCommand {
        script([], "rm -f \"$D/.shipit/lock\" && echo lock=released")
    }
}

extension ImageCommands: ReleaseCommands {}
