/// Pure builders for the symlink strategy: each step on a host is ONE remote script (one exec
/// channel), with every value shell-quoted into a variable at its top. Scripts report facts as
/// `key=value` lines on stdout and fail with a specific exit code and an `error=` line.
public struct SymlinkCommands: Sendable {
    public let layout: HostLayout
    public let timeout: Double

    public init(layout: HostLayout, timeout: Double = 600) {
        self.layout = layout
        self.timeout = timeout
    }

    /// How many changed file names an attempt keeps (the count is always exact).
    public static let changeListLimit = 100

    /// Exit codes the scripts use; the orchestrator maps them to messages.
    public enum Code: Int32 { case notWritable = 10, missingTool = 11, diskFull = 12, checksum = 20, locked = 75 }

    static func assign(_ vars: [(String, String)]) -> String {
        vars.map { "\($0.0)=\(ShellQuote.quote($0.1))" }.joined(separator: "\n")
    }

    private func script(_ vars: [(String, String)], _ body: String) -> RemoteCommand {
        RemoteCommand(script: "set -u\n" + Self.assign([("D", layout.deployTo)] + vars) + "\n" + body, timeout: timeout)
    }

    /// Takes the lock (atomic O_EXCL create via noclobber), retrying up to `waitSeconds`. A lock
    /// whose holder is in `$STALE` (runs the deployer's ledger knows died) is removed and retaken.
    static let lockFunction = """
    take_lock() {
      i=0
      while ! ( set -C; printf '%s\\n' "$LOCKINFO" > "$D/.shipit/lock" ) 2>/dev/null; do
        h=$(sed -n 's/^holder=//p' "$D/.shipit/lock" 2>/dev/null)
        if [ -n "$h" ] && [ -n "$STALE" ] && printf '%s\\n' "$STALE" | grep -qxF -- "$h"; then
          # Re-read just before removing: never remove a lock another run has just taken.
          [ "$(sed -n 's/^holder=//p' "$D/.shipit/lock" 2>/dev/null)" = "$h" ] && rm -f "$D/.shipit/lock" && echo "lock.stale=$h"
          continue
        fi
        if [ "$i" -ge "$LOCKWAIT" ]; then
          echo "error=deploy lock held: $(tr '\\n' ' ' < "$D/.shipit/lock" 2>/dev/null)"
          exit 75
        fi
        i=$((i + 1)); sleep 0.1
      done
      echo "lock=acquired"
    }
    """

    /// Pre-flight: deploy_to writable, tools present, lock taken, a lost run's partial uploads
    /// removed, enough disk, current release read.
    public func preflight(lockInfo: String, lockWaitSeconds: Int, requiredKB: Int64, staleHolders: [String] = [],
                          tools: [String] = ["tar", "gzip", "sha256sum", "readlink", "mv"]) -> RemoteCommand {
        script([("LOCKINFO", lockInfo), ("LOCKWAIT", String(lockWaitSeconds * 10)), ("NEED", String(requiredKB)),
                ("STALE", staleHolders.joined(separator: "\n")), ("TOOLS", tools.joined(separator: " "))], """
        mkdir -p "$D/releases" "$D/shared" "$D/.shipit/failed" 2>/dev/null && [ -w "$D" ] || { echo "error=$D is not writable by $(id -un)"; exit 10; }
        for t in $TOOLS; do command -v "$t" >/dev/null 2>&1 || { echo "error=required command '$t' not found"; exit 11; }; done
        \(Self.lockFunction)
        take_lock
        # Leftovers of a run that lost this host mid-upload (only a lock holder may remove them).
        rm -rf "$D"/.shipit/upload-*.tar.gz "$D"/releases/*.tmp
        avail=$(df -Pk "$D" | awk 'NR==2 {print $4}')
        [ "$avail" -ge "$NEED" ] || { echo "error=only ${avail} KB free in $D, need ${NEED} KB"; exit 12; }
        cur=$(readlink "$D/current" 2>/dev/null || true)
        echo "current=${cur##*/}"
        """)
    }

    /// Verifies the upload's sha256, extracts into `releases/<id>.tmp`, links shared paths, writes a
    /// manifest, then renames to `releases/<id>` (so a release dir is complete or absent).
    public func extract(releaseID: String, sha256: String, shared: [String]) -> RemoteCommand {
        script([("ID", releaseID), ("SHA", sha256), ("SHARED", shared.joined(separator: "\n"))], """
        U="$D/.shipit/upload-$ID.tar.gz"; R="$D/releases/$ID"
        trap 'rc=$?; [ $rc -eq 0 ] || rm -rf "$R.tmp" "$U"; exit $rc' EXIT
        got=$(sha256sum "$U" | cut -c1-64)
        [ "$got" = "$SHA" ] || { echo "error=checksum mismatch after upload (got $got)"; exit 20; }
        rm -rf "$R.tmp" && mkdir -p "$R.tmp"
        err=$(tar -xzf "$U" -C "$R.tmp" 2>&1) || { echo "error=extract failed: $(printf '%s' "$err" | tail -c 300 | tr '\n' ' ')"; exit 21; }
        if [ -n "$SHARED" ]; then
          printf '%s\\n' "$SHARED" | while IFS= read -r p; do
            [ -n "$p" ] || continue
            if [ ! -e "$D/shared/$p" ]; then
              mkdir -p "$(dirname "$D/shared/$p")"
              if [ -e "$R.tmp/$p" ]; then cp -a "$R.tmp/$p" "$D/shared/$p"; else mkdir -p "$D/shared/$p"; fi
            fi
            rm -rf "$R.tmp/$p"; mkdir -p "$(dirname "$R.tmp/$p")"
            ln -s "$D/shared/$p" "$R.tmp/$p"
          done
        fi
        (cd "$R.tmp" && find . -type f ! -name .shipit-manifest -print0 | LC_ALL=C sort -z | xargs -0 -r sha256sum > .shipit-manifest) || { echo "error=cannot write manifest (disk full?)"; exit 22; }
        # What changed against the release running now (A added, M modified, D deleted), for the ledger.
        if [ -f "$D/current/.shipit-manifest" ]; then
          ch=$(awk 'NR == FNR { old[substr($0, 69)] = substr($0, 1, 64); next }
                    { p = substr($0, 69); if (!(p in old)) print "A " p; else if (old[p] != substr($0, 1, 64)) print "M " p; delete old[p] }
                    END { for (p in old) print "D " p }' "$D/current/.shipit-manifest" "$R.tmp/.shipit-manifest" | LC_ALL=C sort)
          echo "changed=$(printf '%s' "$ch" | grep -c . || true)"
          printf '%s\\n' "$ch" | head -n \(Self.changeListLimit) | grep . | sed 's/^/change=/' || true
        fi
        rm -rf "$R" && mv "$R.tmp" "$R" && rm -f "$U"
        sync -f "$R" 2>/dev/null || true
        echo "extracted=$ID"
        """)
    }

    /// Atomic switch of `current` to `releases/<id>`, a host-local history line, then `start` in
    /// the release directory with its output kept in a log file (a daemon must not hold the channel).
    public func switchTo(releaseID: String, start: String?, env: [(String, String)], historyLine: String) -> RemoteCommand {
        let exports = env.map { "export \($0.0)=\(ShellQuote.quote($0.1))" }.joined(separator: "\n")
        return script([("ID", releaseID), ("START", start ?? ""), ("HIST", historyLine)], """
        [ -d "$D/releases/$ID" ] || { echo "error=release $ID is not on this host"; exit 30; }
        prev=$(readlink "$D/current" 2>/dev/null || true)
        echo "previous=${prev##*/}"
        ln -sfn "releases/$ID" "$D/current.tmp" && mv -T "$D/current.tmp" "$D/current" || { echo "error=switch failed"; exit 31; }
        echo "switched=$ID"
        printf '%s\\n' "$HIST" >> "$D/.shipit/history.jsonl" || true
        rm -f "$D/.shipit/failed/$ID"
        if [ -n "$START" ]; then
          \(exports.isEmpty ? ":" : exports)
          export SHIPIT_RELEASE="$ID" SHIPIT_DEPLOY_TO="$D" SHIPIT_RELEASE_PATH="$D/releases/$ID"
          log="$D/.shipit/start.log"
          (cd "$D/releases/$ID" && sh -c "$START") </dev/null >"$log" 2>&1
          rc=$?
          tail -c 2000 "$log" >&2
          [ $rc -eq 0 ] || { echo "error=start command exited $rc"; exit 32; }
          echo "started=$ID"
        fi
        """)
    }

    /// After success: prune old releases (never current, the rollback target, or a failed release
    /// still inside the keep window), then release our lock.
    public func finish(keep: Int, previous: String?, holder: String, historyLine: String? = nil) -> RemoteCommand {
        script([("KEEP", String(keep)), ("PREV", previous ?? ""), ("HOLDER", holder), ("HIST", historyLine ?? "")], """
        \(Self.appendHistory)
        cur=$(readlink "$D/current" 2>/dev/null); cur=${cur##*/}
        n=0
        for r in $(ls -1 "$D/releases" | grep -v '\\.tmp$' | LC_ALL=C sort -r); do
          n=$((n + 1))
          [ "$n" -le "$KEEP" ] && continue
          [ "$r" = "$cur" ] || [ "$r" = "$PREV" ] && continue
          rm -rf "$D/releases/$r" "$D/.shipit/failed/$r" && echo "pruned=$r"
        done
        \(Self.unlockBody)
        """)
    }

    /// Leaves a failed release for inspection (marked failed, never chosen by rollback) or removes
    /// it when it never went live, then releases our lock.
    public func abandon(releaseID: String, keepForInspection: Bool, holder: String, historyLine: String? = nil) -> RemoteCommand {
        script([("ID", releaseID), ("HOLDER", holder), ("HIST", historyLine ?? "")], """
        \(Self.appendHistory)
        rm -rf "$D/releases/$ID.tmp" "$D/.shipit/upload-$ID.tar.gz"
        if [ \(keepForInspection ? "1" : "0") = 1 ]; then
          [ -d "$D/releases/$ID" ] && : > "$D/.shipit/failed/$ID"
        else
          cur=$(readlink "$D/current" 2>/dev/null); [ "${cur##*/}" = "$ID" ] || rm -rf "$D/releases/$ID"
        fi
        \(Self.unlockBody)
        """)
    }

    public func unlock(holder: String, historyLine: String? = nil) -> RemoteCommand {
        script([("HOLDER", holder), ("HIST", historyLine ?? "")], Self.appendHistory + "\n" + Self.unlockBody)
    }

    /// The run's outcome line in the host's history, for readers without the deployer's ledger.
    static let appendHistory = """
    [ -z "$HIST" ] || printf '%s\\n' "$HIST" >> "$D/.shipit/history.jsonl" || true
    """

    /// Removes the lock only if this run holds it (holder id check).
    static let unlockBody = """
    if [ -f "$D/.shipit/lock" ] && [ "$(sed -n 's/^holder=//p' "$D/.shipit/lock")" = "$HOLDER" ]; then rm -f "$D/.shipit/lock" && echo "lock=released"; fi
    """

    /// Current (also left in `$cur`), releases oldest first, failed marks, lock.
    static let inventoryBody = """
    cur=$(readlink "$D/current" 2>/dev/null || true); cur=${cur##*/}; echo "current=$cur"
    [ -d "$D/releases" ] && ls -1 "$D/releases" | grep -v '\\.tmp$' | LC_ALL=C sort | sed 's/^/release=/'
    [ -d "$D/.shipit/failed" ] && ls -1 "$D/.shipit/failed" | sed 's/^/failed=/'
    [ -f "$D/.shipit/lock" ] && sed 's/^/lock./' "$D/.shipit/lock"
    """

    /// What is on the host: releases, current, failed marks, lock.
    public func inventory() -> RemoteCommand {
        script([], Self.inventoryBody + "\ntrue")
    }

    /// Everything `status`, `releases`, `verify` and `changes` need from a host, in one exec channel:
    /// the inventory, optionally the files of `current` checked against the manifest written at
    /// deploy time (`modified=` changed or missing, `added=` not in the manifest), and optionally
    /// the newest history lines.
    public func inspect(verify: Bool, historyLines: Int) -> RemoteCommand {
        script([("VERIFY", verify ? "1" : ""), ("HLINES", String(historyLines))], """
        \(Self.inventoryBody)
        if [ -n "$VERIFY" ]; then
          if [ -z "$cur" ]; then echo "files=no-current"
          elif [ ! -f "$D/current/.shipit-manifest" ]; then echo "files=no-manifest"
          else
            cd "$D/current" || exit 1
            bad=$(sha256sum -c --quiet .shipit-manifest 2>/dev/null | sed -n 's/: FAILED.*$//p')
            # Added files: by count first, since a name may hold a newline (the manifest escapes it,
            # `find` does not); the names are then listed for the operator.
            extra=""
            if [ "$(find . -type f ! -name .shipit-manifest -printf . | wc -c)" -ne "$(wc -l < .shipit-manifest)" ]; then
              extra=$(find . -type f ! -name .shipit-manifest | LC_ALL=C sort | awk 'NR == FNR { m[substr($0, 67)] = 1; next } !($0 in m)' .shipit-manifest -)
              [ -n "$extra" ] || extra="(the number of files changed)"
            fi
            if [ -z "$bad$extra" ]; then echo "files=intact"; else echo "files=modified"; fi
            [ -z "$bad" ] || printf '%s\\n' "$bad" | head -n 50 | sed 's/^/modified=/'
            [ -z "$extra" ] || printf '%s\\n' "$extra" | head -n 50 | sed 's/^/added=/'
          fi
        fi
        if [ "$HLINES" -gt 0 ] && [ -f "$D/.shipit/history.jsonl" ]; then tail -n "$HLINES" "$D/.shipit/history.jsonl" | sed 's/^/history=/'; fi
        true
        """)
    }

    public func forceUnlock() -> RemoteCommand {
        script([], "rm -f \"$D/.shipit/lock\" && echo lock=released")
    }
}

/// Parses the `key=value` lines the scripts print.
public struct ScriptOutput: Sendable {
    public let pairs: [(String, String)]

    public init(_ text: String) {
        pairs = text.split(separator: "\n").compactMap { line in
            guard let eq = line.firstIndex(of: "=") else { return nil }
            return (String(line[..<eq]), String(line[line.index(after: eq)...]))
        }
    }

    public func first(_ key: String) -> String? { pairs.first { $0.0 == key }?.1 }
    public func all(_ key: String) -> [String] { pairs.filter { $0.0 == key }.map(\.1) }
}
