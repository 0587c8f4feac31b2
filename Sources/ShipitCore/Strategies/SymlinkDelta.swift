/// The symlink strategy's delta: the pre-flight names the releases a host keeps (with a hash of
/// each one's manifest), and a delta's staging script builds the release from the files sent and
/// copies of the files those releases already hold.
extension SymlinkStrategy {
    /// How many kept releases a pre-flight offers to copy from: the current one and the newest others.
    static let keptOffered = 4

    /// Pre-flight lines `kept=<id> <sha256 of its .shipit-manifest>` for complete releases, the
    /// current one first. Only where GNU tar and coreutils' `cp --parents` build the delta.
    static let keptReleases: ScriptText = """
        case $(tar --version 2>/dev/null) in
          *"GNU tar"*)
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

    /// Stages a delta: the tarball holds the directories, links and
    /// files the host lacks, and under `.shipit-delta/` the files to copy from each kept release,
    /// their modes and the whole release's manifest, which becomes the release's (less the shared
    /// paths): the files sent are checked with the tarball's sha256, and a file is copied only if
    /// nothing wrote it since its release's manifest was written, so nothing is hashed again. A
    /// host whose kept file changed in place fails with `deltaMismatch`, and gets the whole artifact.
    public func extractDelta(releaseID: String, sha256: String) -> RemoteCommand {
        script(
            .extract,
            [
                ("ID", releaseID), ("SHA256", sha256), ("SHARED_PATHS", shared.joined(separator: "\n")),
                ("UPLOAD", layout.upload(releaseID)),
            ],
            """
            R="$RELEASES/$ID"
            EXPECTED="$RELEASES/$ID.expected.tmp"
            trap 'rc=$?; [ $rc -eq 0 ] || rm -rf "$R.tmp" "$UPLOAD" "$EXPECTED"; exit $rc' EXIT
            got=$(sha256sum "$UPLOAD"); got=${got%% *}
            [ "$got" = "$SHA256" ] || { echo "error=checksum mismatch after upload (got $got)"; exit \(ScriptExit.checksum); }
            if [ -e "$R.tmp" ] || [ -L "$R.tmp" ]; then rm -rf "$R.tmp"; fi
            mkdir -p "$R.tmp"
            err=$(tar --no-same-owner --no-same-permissions -xzf "$UPLOAD" -C "$R.tmp" 2>&1) || { echo "error=extract failed: $(short "$err" 300)"; exit \(ScriptExit.extractFailed); }
            C="$R.tmp/\(DeltaPlan.controlDir)"
            for f in "$C"/copy.*; do
              [ -f "$f" ] || continue
              from=${f##*/copy.}
              case $from in ""|*[!0-9A-Za-z._-]*) echo "error=delta: no release may be named $(short "$from" 80)"; exit \(ScriptExit.deltaMismatch) ;; esac
              [ -d "$RELEASES/$from" ] || { echo "error=delta: release $from is no longer on this host"; exit \(ScriptExit.deltaMismatch); }
              # A file written since its release's manifest (the app changed it in place) is not
              # what the manifest says: that host gets the whole artifact instead.
              changed=$(cd "$RELEASES/$from" && xargs -d '\\n' sh -c 'find "$@" -prune -newer "$0" -print' "$RELEASES/$from/.shipit-manifest" < "$f" 2>&1 | head -n 1)
              [ -z "$changed" ] || { echo "error=delta: $(short "$changed" 200) in release $from changed since it was deployed"; exit \(ScriptExit.deltaMismatch); }
              # Copies (reflinks where the filesystem has them), never hard links: no inode is shared.
              err=$(cd "$RELEASES/$from" && xargs -d '\\n' cp --reflink=auto --parents -t "$R.tmp" -- < "$f" 2>&1) || { echo "error=delta: copying from release $from failed: $(short "$err" 300)"; exit \(ScriptExit.deltaMismatch); }
            done
            um=$(umask)
            for f in "$C"/mode.*; do
              [ -f "$f" ] || continue
              m=${f##*/mode.}
              case $m in ""|*[!0-7]*) echo "error=delta: bad mode $(short "$m" 20)"; exit \(ScriptExit.deltaMismatch) ;; esac
              # As tar gives a file: the archived mode less the umask.
              m=$(printf '%o' $(( 0$m & ~0$um )))
              err=$(cd "$R.tmp" && xargs -d '\\n' chmod "$m" -- < "$f" 2>&1) || { echo "error=delta: chmod failed: $(short "$err" 300)"; exit \(ScriptExit.deltaMismatch); }
            done
            mv "$C/expected" "$EXPECTED" && rm -rf "$C" || { echo "error=delta: no manifest in the delta"; exit \(ScriptExit.deltaMismatch); }
            """ + Self.placeRelease)
    }
}
