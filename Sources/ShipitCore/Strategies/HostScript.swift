/// What every host script shares: the `set -u` prelude, values assigned as quoted shell variables
/// at the top (the layout's paths first), and the lock, unlock and history fragments both
/// strategies use. Scripts report facts as `key=value` lines and fail with an `error=` line.
public enum HostScript {
    /// `NAME='value'` lines, every value quoted.
    public static func assign(_ vars: [(String, String)]) -> String {
        vars.map { "\($0.0)=\(ShellQuote.quote($0.1))" }.joined(separator: "\n")
    }

    /// The layout as variables: `$D` deploy_to, `$RELEASES`, `$CURRENT`, `$SHARED`, `$META`,
    /// `$LOCK`, `$HISTORY`, `$FAILED`, `$ICUR`, `$IREL`, `$PROXY`, `$SLOTS`.
    public static func layoutVariables(_ l: HostLayout) -> [(String, String)] {
        [
            ("D", l.deployTo), ("RELEASES", l.releases), ("CURRENT", l.current), ("SHARED", l.shared), ("META", l.meta),
            ("LOCK", l.lock), ("HISTORY", l.history), ("FAILED", l.failedMarks), ("ICUR", l.imageCurrent),
            ("IREL", l.imageReleases),
            ("PROXY", l.proxy), ("SLOTS", l.slots),
        ]
    }

    public static func make(
        _ step: HostStep, layout: HostLayout, _ vars: [(String, String)], prelude: String = "",
        _ body: String, timeout: Double?
    ) -> RemoteCommand {
        // C collation: globs list release ids (timestamps) oldest first, as `sort` would.
        var text = "set -u\nLC_ALL=C; export LC_ALL\n" + assign(layoutVariables(layout) + vars) + "\n"
        if !prelude.isEmpty { text += prelude + "\n" }
        return RemoteCommand(script: text + body, step: step, timeout: timeout)
    }

    /// The image engine for a script: `$E` holds its words, each quoted; `eng ARGS…` runs it
    /// (the words split on purpose: `podman --root …` is one engine).
    static func engineVariable(_ engine: [String]) -> (String, String) {
        ("E", engine.map(ShellQuote.quote).joined(separator: " "))
    }

    static let engineFunction = """
        eng() { eval "$E" '"$@"'; }
        """

    /// `fail CODE MESSAGE` prints an error line and exits; `short TEXT` is its last 400 bytes on one
    /// line; `current_id` leaves the release `current` points at in `$CUR` without a fork (`cd -P`
    /// resolves the link, a builtin; readlink only for a dangling link): every fork on every host
    /// counts in a rollback's wall time.
    static let helpers = """
        fail() { code=$1; shift; echo "error=$*"; exit "$code"; }
        short() { printf '%s' "$1" | tail -c 400 | tr '\\n' ' '; }
        current_id() {
          CUR=; _here=$PWD
          if cd -P "$CURRENT" 2>/dev/null; then CUR=${PWD##*/}; cd "$_here" 2>/dev/null || cd /
          elif [ -L "$CURRENT" ]; then CUR=$(readlink "$CURRENT"); CUR=${CUR##*/}; fi
        }
        """

    /// Exit codes the scripts use; the orchestrator shows their `error=` line.
    public enum Code: Int32 {
        case notWritable = 10
        case missingTool = 11
        case diskFull = 12
        case sharedMissing = 13
        case checksum = 20
        case locked = 75
    }

    /// Takes the lock (atomic O_EXCL create via noclobber), retrying up to `$LOCKWAIT` tenths of a
    /// second. A lock whose holder is in `$STALE` (runs the deployer's ledger knows died) is
    /// removed and retaken, and the retake is an exclusive create too.
    ///
    /// Taking over is "read the holder, then remove": two runs that both saw the dead holder could
    /// each remove the lock the other had just created, and both go on as holder. So the removal is
    /// done only by the run that creates `$LOCK.takeover-<dead holder>` (exclusively, noclobber),
    /// which re-reads the holder under it: a dead holder's lock has one remover, and a live run's
    /// lock is never removed. A marker left by a run killed at that instant keeps the lock held
    /// until `shipit lock release` (it removes markers too): refusing is safer than a double holder.
    static let lockFunction = """
        take_lock() {
          i=0
          # noclobber for the whole loop: every create is O_EXCL, the first try and every retry.
          # No subshell: a fork per host counts.
          set -C
          while ! { printf '%s\\n' "$LOCKINFO" > "$LOCK"; } 2>/dev/null; do
            h=$(sed -n 's/^holder=//p' "$LOCK" 2>/dev/null)
            if [ -n "$h" ] && [ -n "$STALE" ] && printf '%s\\n' "$STALE" | grep -qxF -- "$h"; then
              # The holder names a file: only a plain id (the ledger's attempt ids are).
              case $h in
                *[!A-Za-z0-9._-]*|.*) ;;
                *)
                  if { : > "$LOCK.takeover-$h"; } 2>/dev/null; then
                    took=
                    [ "$(sed -n 's/^holder=//p' "$LOCK" 2>/dev/null)" = "$h" ] && rm -f "$LOCK" && took=1 && echo "lock.stale=$h"
                    rm -f "$LOCK.takeover-$h"
                    # Removed: create ours at once. Not removed (another run took it over, or rm
                    # failed): wait like for any held lock, so the loop stays bounded by $LOCKWAIT.
                    [ -z "$took" ] || continue
                  fi
                  ;;
              esac
            fi
            if [ "$i" -ge "$LOCKWAIT" ]; then
              set +C
              echo "error=deploy lock held: $(tr '\\n' ' ' < "$LOCK" 2>/dev/null)"
              exit 75
            fi
            i=$((i + 1)); sleep 0.1
          done
          set +C
          echo "lock=acquired"
        }
        """

    /// The variables `lockFunction` reads.
    static func lockVariables(_ lock: LockRequest) -> [(String, String)] {
        [
            ("LOCKINFO", lock.info), ("LOCKWAIT", String(lock.waitSeconds * 10)),
            ("STALE", lock.staleHolders.joined(separator: "\n")),
        ]
    }

    /// The run's outcome line in the host's history, for readers without the deployer's ledger.
    static let appendHistory = """
        [ -z "$HIST" ] || printf '%s\\n' "$HIST" >> "$HISTORY" || true
        """

    /// Removes the lock only if this run holds it (holder id check).
    static let unlockBody = """
        # The holder line read with builtins: a `$(sed …)` costs the host two process starts.
        held=
        if [ -f "$LOCK" ]; then while IFS= read -r l; do case "$l" in holder=*) held=${l#holder=} ;; esac; done < "$LOCK"; fi
        if [ -n "$held" ] && [ "$held" = "$HOLDER" ]; then rm -f "$LOCK" && echo "lock=released"; fi
        """

    /// Failed marks and the lock, as inventory lines.
    static let marksAndLock = """
        for f in "$FAILED"/*; do [ -e "$f" ] && echo "failed=${f##*/}"; done
        if [ -f "$LOCK" ]; then while IFS= read -r l; do echo "lock.$l"; done < "$LOCK"; fi
        """

    /// The newest `$HLINES` history lines.
    static let historyTail = """
        if [ "$HLINES" -gt 0 ] && [ -f "$HISTORY" ]; then tail -n "$HLINES" "$HISTORY" | sed 's/^/history=/'; fi
        """

    static func unlock(layout: HostLayout, holder: String, historyLine: String?, timeout: Double?) -> RemoteCommand {
        make(
            .unlock, layout: layout, [("HOLDER", holder), ("HIST", historyLine ?? "")],
            appendHistory + "\n" + unlockBody, timeout: timeout)
    }

    static func forceUnlock(layout: HostLayout, timeout: Double?) -> RemoteCommand {
        make(
            .forceUnlock, layout: layout, [], "rm -f \"$LOCK\" \"$LOCK\".takeover-* && echo lock=released",
            timeout: timeout)
    }
}

/// The lock a run takes in pre-flight: the lock file's text, how long to wait for another run's
/// lock, and the holders known dead (their locks are taken over).
public struct LockRequest: Sendable {
    public var info: String
    public var waitSeconds: Int
    public var staleHolders: [String]

    public init(info: String, waitSeconds: Int = 0, staleHolders: [String] = []) {
        self.info = info
        self.waitSeconds = waitSeconds
        self.staleHolders = staleHolders
    }
}
