/// The deploy lock's shell functions and fragments, shared by every strategy.
extension ShellFunction {
    /// Takes the lock (atomic O_EXCL create via noclobber), retrying up to `$LOCK_WAIT` tenths of a
    /// second. A lock whose holder is in `$STALE_HOLDERS` (runs the deployer's ledger knows died) is
    /// removed and retaken, and the retake is an exclusive create too.
    ///
    /// Taking over is "read the holder, then remove": two runs that both saw the dead holder could
    /// each remove the lock the other had just created, and both go on as holder. So the removal is
    /// done only by the run that creates `$LOCK.takeover-<dead holder>` (exclusively, noclobber),
    /// which re-reads the holder under it: a dead holder's lock has one remover, and a live run's
    /// lock is never removed. A marker left by a run killed at that instant keeps the lock held
    /// until `shipit lock release` (it removes markers too): refusing is safer than a double holder.
    public static let takeLock = ShellFunction(
        "take_lock",
        """
        take_lock() {
          i=0
          # noclobber for the whole loop: every create is O_EXCL, the first try and every retry.
          # No subshell: a fork per host counts.
          set -C
          while ! { printf '%s\\n' "$LOCK_INFO" > "$LOCK"; } 2>/dev/null; do
            h=$(sed -n 's/^holder=//p' "$LOCK" 2>/dev/null)
            if [ -n "$h" ] && [ -n "$STALE_HOLDERS" ] && printf '%s\\n' "$STALE_HOLDERS" | grep -qxF -- "$h"; then
              # The holder names a file: only a plain id (the ledger's attempt ids are).
              case $h in
                *[!A-Za-z0-9._-]*|.*) ;;
                *)
                  if { : > "$LOCK.takeover-$h"; } 2>/dev/null; then
                    took=
                    [ "$(sed -n 's/^holder=//p' "$LOCK" 2>/dev/null)" = "$h" ] && rm -f "$LOCK" && took=1 && echo "lock.stale=$h"
                    rm -f "$LOCK.takeover-$h"
                    # Removed: create ours at once. Not removed (another run took it over, or rm
                    # failed): wait like for any held lock, so the loop stays bounded by $LOCK_WAIT.
                    [ -z "$took" ] || continue
                  fi
                  ;;
              esac
            fi
            if [ "$i" -ge "$LOCK_WAIT" ]; then
              set +C
              echo "error=deploy lock held: $(tr '\\n' ' ' < "$LOCK" 2>/dev/null)"
              exit \(ScriptExit.locked)
            fi
            i=$((i + 1)); sleep 0.1
          done
          set +C
          echo "lock=acquired"
        }
        """)

    /// `release_lock`: removes the lock only if this run (`$HOLDER`) holds it. The holder line is
    /// read with builtins: a `$(sed …)` costs the host two process starts.
    public static let releaseLock = ShellFunction(
        "release_lock",
        """
        release_lock() {
          held=
          if [ -f "$LOCK" ]; then while IFS= read -r l; do case "$l" in holder=*) held=${l#holder=} ;; esac; done < "$LOCK"; fi
          if [ -n "$held" ] && [ "$held" = "$HOLDER" ]; then rm -f "$LOCK" && echo "lock=released"; fi
        }
        """)
}

extension ScriptText {
    /// Failed marks and the lock, as inventory lines.
    static let marksAndLock: ScriptText = """
        for f in "$FAILED"/*; do [ -e "$f" ] && echo "failed=${f##*/}"; done
        if [ -f "$LOCK" ]; then while IFS= read -r l; do echo "lock.$l"; done < "$LOCK"; fi
        """

    /// The newest `$HISTORY_LINES` history lines.
    static let historyTail: ScriptText = """
        if [ "$HISTORY_LINES" -gt 0 ] && [ -f "$HISTORY" ]; then tail -n "$HISTORY_LINES" "$HISTORY" | sed 's/^/history=/'; fi
        """
}

extension HostScript {
    /// The variables `take_lock` reads.
    static func lockVariables(_ lock: LockRequest) -> [(String, String)] {
        [
            ("LOCK_INFO", lock.info), ("LOCK_WAIT", String(lock.waitSeconds * 10)),
            ("STALE_HOLDERS", lock.staleHolders.joined(separator: "\n")),
            ("RESUMING", lock.resuming ? "1" : ""),
        ]
    }

    static func unlock(layout: HostLayout, holder: String, historyLine: String?, timeout: Double?) -> HostScript {
        HostScript(
            .unlock, layout: layout, timeout: timeout,
            variables: [("HOLDER", holder), ("HISTORY_LINE", historyLine ?? "")],
            uses: [.appendHistory, .releaseLock], "append_history\nrelease_lock")
    }

    static func forceUnlock(layout: HostLayout, timeout: Double?) -> HostScript {
        HostScript(
            .forceUnlock, layout: layout, timeout: timeout, "rm -f \"$LOCK\" \"$LOCK\".takeover-* && echo lock=released"
        )
    }
}

/// The lock a run takes in pre-flight: the lock file's text, how long to wait for another run's
/// lock, and the holders known dead (their locks are taken over).
public struct LockRequest: Sendable {
    public var info: String
    public var waitSeconds: Int
    public var staleHolders: [String]
    /// A paused rollout taking up its own lock: what its request step left stays as it is.
    public var resuming = false

    public init(info: String, waitSeconds: Int = 0, staleHolders: [String] = []) {
        self.info = info
        self.waitSeconds = waitSeconds
        self.staleHolders = staleHolders
    }
}
