/// The symlink strategy's delta: the pre-flight names the releases a host keeps (with a hash of
/// each one's manifest), and a delta's staging script builds the release from the files sent and
/// copies of the files those releases already hold.
extension SymlinkStrategy {
    /// How many kept releases a pre-flight offers to copy from: the current one and the newest others.
    public static let keptOffered = 4

    /// Pre-flight lines `kept=<id> <sha256 of its .shipit-manifest>` for complete releases, the
    /// current one first. Only where the GNU tools a delta's script uses are there (tar, `cp
    /// --parents`, `xargs -d`, `find -cnewer`): a host with others gets the whole artifact.
    static let keptReleases: ScriptText = """
        case $({ tar --version; cp --version; xargs --version; find --version; } 2>/dev/null) in
          *"GNU tar"*"GNU coreutils"*"GNU findutils"*"GNU findutils"*)
            seen=" "; n=0
            for id in "${cur##*/}" $(ls -1 "$RELEASES" 2>/dev/null | LC_ALL=C sort -r); do
              [ "$n" -lt \(keptOffered) ] || break
              case $id in ""|*.tmp|*[!0-9A-Za-z._-]*) continue ;; esac
              case $seen in *" $id "*) continue ;; esac
              seen="$seen$id "
              [ -f "$RELEASES/$id/.shipit-manifest" ] || continue
              m=$(sha256sum "$RELEASES/$id/.shipit-manifest") || continue
              echo "kept=$id ${m%% *}"; n=$((n + 1))
            done ;;
        esac
        """

    /// Stages a delta. The tarball holds the directories (the release's own `.` too), links and
    /// files the host lacks, and under `.shipit-delta/` the files to copy from each kept release,
    /// the modes and times of the copies and directories, and the whole release's manifest,
    /// which becomes the release's (less the shared paths). The files sent are checked with the
    /// tarball's sha256; a file is copied only if nothing changed it (ctime, which no one can set
    /// back) since its release's manifest was written, checked once the copy is made, so nothing
    /// is hashed again. A host whose kept file changed fails with `deltaMismatch`, and
    /// gets the whole artifact.
    public func extractDelta(releaseID: String, sha256: String) -> RemoteCommand {
        script(
            .extract,
            [
                ("ID", releaseID), ("SHA256", sha256), ("SHARED_PATHS", shared.joined(separator: "\n")),
                ("UPLOAD", layout.upload(releaseID)),
            ],
            """
            R="$RELEASES/$ID"
            # The control files, out of the release (a `*.tmp` the next pre-flight sweeps if this dies).
            CTL="$RELEASES/$ID.ctl.tmp"
            EXPECTED="$CTL/expected"
            trap 'rc=$?; rm -rf "$CTL"; [ $rc -eq 0 ] || remove_tree "$R.tmp" "$UPLOAD"; exit $rc' EXIT
            got=$(sha256sum "$UPLOAD"); got=${got%% *}
            [ "$got" = "$SHA256" ] || { echo "error=checksum mismatch after upload (got $got)"; exit \(ScriptExit.checksum); }
            for f in "$R.tmp" "$CTL"; do if [ -e "$f" ] || [ -L "$f" ]; then remove_tree "$f"; fi; done
            mkdir -p "$R.tmp"
            err=$(tar --no-same-owner --no-same-permissions -xzf "$UPLOAD" -C "$R.tmp" 2>&1) || { echo "error=extract failed: $(short "$err" 300)"; exit \(ScriptExit.extractFailed); }
            mv "$R.tmp/\(DeltaPlan.controlDir)" "$CTL" && [ -f "$EXPECTED" ] || { echo "error=delta: no manifest in the delta"; exit \(ScriptExit.deltaMismatch); }
            # Copies go into directories the artifact may make read-only: their modes come back below.
            if [ -f "$CTL/read-only-dirs" ]; then find "$R.tmp" -type d ! -perm -u+w -exec chmod u+w {} + 2>/dev/null; fi
            for f in "$CTL"/copy.*; do
              [ -f "$f" ] || continue
              from=${f##*/copy.}
              case $from in ""|*[!0-9A-Za-z._-]*) echo "error=delta: no release may be named $(short "$from" 80)"; exit \(ScriptExit.deltaMismatch) ;; esac
              [ -d "$RELEASES/$from" ] || { echo "error=delta: release $from is no longer on this host"; exit \(ScriptExit.deltaMismatch); }
              # Copies (reflinks where the filesystem has them), never hard links: no inode is shared.
              err=$(cd "$RELEASES/$from" && xargs -d '\\n' cp --reflink=auto --parents -t "$R.tmp" -- < "$f" 2>&1) || { echo "error=delta: copying from release $from failed: $(short "$err" 300)"; exit \(ScriptExit.deltaMismatch); }
              # A file changed since its release's manifest (the app wrote it in place), before or
              # during the copy, is not what the manifest says: its ctime says so now.
              changed=$(cd "$RELEASES/$from" && xargs -d '\\n' sh -c 'find "$@" -prune -cnewer "$0" -print' "$RELEASES/$from/.shipit-manifest" < "$f" 2>&1 | head -n 1)
              [ -z "$changed" ] || { echo "error=delta: $(short "$changed" 200) in release $from changed since it was deployed"; exit \(ScriptExit.deltaMismatch); }
            done
            um=$(umask)
            for f in "$CTL"/mode.*; do
              [ -f "$f" ] || continue
              m=${f##*/mode.}
              case $m in ""|*[!0-7]*) echo "error=delta: bad mode $(short "$m" 20)"; exit \(ScriptExit.deltaMismatch) ;; esac
              # As tar gives it: the archived mode less the umask.
              m=$(printf '%o' $(( 0$m & ~0$um )))
              err=$(cd "$R.tmp" && xargs -d '\\n' chmod "$m" -- < "$f" 2>&1) || { echo "error=delta: chmod failed: $(short "$err" 300)"; exit \(ScriptExit.deltaMismatch); }
            done
            # Times last: a copy into a directory changed the directory's.
            for f in "$CTL"/mtime.*; do
              [ -f "$f" ] || continue
              t=${f##*/mtime.}
              case $t in ""|*[!0-9-]*) echo "error=delta: bad time $(short "$t" 20)"; exit \(ScriptExit.deltaMismatch) ;; esac
              err=$(cd "$R.tmp" && xargs -d '\\n' touch -h -m -d "@$t" -- < "$f" 2>&1) || { echo "error=delta: touch failed: $(short "$err" 300)"; exit \(ScriptExit.deltaMismatch); }
            done
            """ + Self.placeRelease)
    }
}
