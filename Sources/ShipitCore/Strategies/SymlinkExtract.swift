/// The symlink strategy's staging script: the uploaded artifact checked, extracted and put in
/// place as a complete release.
extension SymlinkStrategy {
    /// Verifies the upload's sha256, extracts into `releases/<id>.tmp`, links shared paths, writes a
    /// manifest, then renames to `releases/<id>` (so a release dir is complete or absent).
    ///
    /// The release's files belong to the deploy user with the host's umask, whatever the tarball
    /// says (`--no-same-owner --no-same-permissions`: as root, tar would restore owners and setuid
    /// bits). `needsGNUTar` (the artifact's hard links and links out of the release, from
    /// `ArtifactLinks`) is refused by a tar that is not GNU's. A shared path that passes through a
    /// symbolic link of the release is refused: replacing it would remove, and seeding `shared/`
    /// would copy, files outside the release.
    /// `zipped`: whether the upload is gzip'd (else plain tar). `expected`: where the artifact's
    /// manifest was uploaded (its sha256 `expectedSHA256`), or "" for the host to hash the files.
    public func extract(
        releaseID: String, sha256: String, needsGNUTar: String = "", zipped: Bool = true, expected: String = "",
        expectedSHA256: String = ""
    ) -> RemoteCommand {
        script(
            .extract,
            [
                ("ID", releaseID), ("SHA256", sha256), ("SHARED_PATHS", shared.joined(separator: "\n")),
                ("UPLOAD", layout.upload(releaseID)),
                ("NEEDS_GNU_TAR", needsGNUTar),
                // The uploaded manifest, or "" (never one from the environment): the files are hashed.
                ("EXPECTED", expected), ("EXPECTED_SHA256", expectedSHA256),
                ("ZIP", zipped ? "z" : ""),
                // Only a delta's script has control files (never a value from the environment).
                ("CTL", ""),
            ],
            """
            R="$RELEASES/$ID"
            trap 'rc=$?; [ $rc -eq 0 ] || remove_tree "$R.tmp" "$UPLOAD" ${EXPECTED:+"$EXPECTED"}; exit $rc' EXIT
            # Tools only where the shell cannot do it: every process started costs every host at once.
            got=$(sha256sum "$UPLOAD"); got=${got%% *}
            [ "$got" = "$SHA256" ] || { echo "error=checksum mismatch after upload (got $got)"; exit \(ScriptExit.checksum); }
            gnu=
            if [ -n "$NEEDS_GNU_TAR$EXPECTED" ]; then
              case $(tar --version 2>/dev/null) in *"GNU tar"*) gnu=1 ;; esac
            fi
            if [ -n "$NEEDS_GNU_TAR" ] && [ -z "$gnu" ]; then
              echo "error=the artifact has $NEEDS_GNU_TAR, and this host's tar is not GNU tar (BusyBox?), which could write through them outside the release: refused"; exit \(ScriptExit.needsGNUTar)
            fi
            if [ -n "$EXPECTED" ]; then
              # The manifest names what GNU tar extracts (another tar may read names differently),
              # and is used only as sent; else the files are hashed here.
              m=; [ -z "$gnu" ] || m=$({ sha256sum < "$EXPECTED"; } 2>/dev/null) || m=
              [ -n "$EXPECTED_SHA256" ] && [ "${m%% *}" = "$EXPECTED_SHA256" ] || { rm -f "$EXPECTED"; EXPECTED=; }
            fi
            if [ -e "$R.tmp" ] || [ -L "$R.tmp" ]; then remove_tree "$R.tmp"; fi
            mkdir -p "$R.tmp"
            err=$(tar --no-same-owner --no-same-permissions "-x${ZIP}f" "$UPLOAD" -C "$R.tmp" 2>&1) || { echo "error=extract failed: $(short "$err" 300)"; exit \(ScriptExit.extractFailed); }
            """ + Self.placeRelease)
    }

    /// From an extracted `releases/<id>.tmp` to `releases/<id>`: shared paths linked, the manifest
    /// written (with `EXPECTED`, a delta's: the artifact's own), the changes against the
    /// current release listed, the directory renamed into place and synced.
    static let placeRelease: ScriptText = """
        if [ -n "$SHARED_PATHS" ]; then
          # In this shell, not a pipeline's subshell: a refusal must end the script.
          oldifs=$IFS; IFS=$NL; set -f
          for p in $SHARED_PATHS; do
            [ -n "$p" ] || continue
            # Each component, from the top: none may be a symbolic link in the release.
            rest=$p; sub=
            while :; do
              c=${rest%%/*}; sub=${sub:+$sub/}$c
              if [ -L "$R.tmp/$sub" ]; then echo "error=shared path $p: $sub is a symbolic link in the artifact; a shared path must be a plain directory or file of the release"; exit \(ScriptExit.sharedIsSymlink); fi
              [ "$rest" = "$c" ] && break
              rest=${rest#*/}
            done
            if [ ! -e "$SHARED/$p" ]; then
              mkdir -p "$(dirname "$SHARED/$p")"
              [ -e "$R.tmp/$p" ] || { echo "error=shared path $p is neither in $SHARED nor in the release"; exit \(ScriptExit.sharedNowhere); }
              cp -a "$R.tmp/$p" "$SHARED/$p"
            fi
            remove_tree "$R.tmp/$p"; mkdir -p "$(dirname "$R.tmp/$p")"
            ln -s "$SHARED/$p" "$R.tmp/$p"
          done
          set +f; IFS=$oldifs
        fi
        # An artifact's own `.shipit-manifest` (a link could point out of the release) is replaced.
        rm -f "$R.tmp/.shipit-manifest" 2>/dev/null
        [ ! -e "$R.tmp/.shipit-manifest" ] || { echo "error=the artifact has a directory named .shipit-manifest, the name of the release's manifest"; exit \(ScriptExit.manifestFailed); }
        if [ -n "${EXPECTED:-}" ]; then
          # The files are the artifact's, checked already (a full upload's or a delta's tarball
          # by its sha256; a delta's copies: unchanged since their release's manifest said what
          # they hold): the manifest is the artifact's, less what shared paths replaced. No file
          # more, none less.
          SP="$SHARED_PATHS" awk '
            BEGIN { n = split(ENVIRON["SP"], sp, "\\n") }
            { p = substr($0, 67); under = 0
              for (i = 1; i <= n; i++) if (sp[i] != "" && (p == "./" sp[i] || index(p, "./" sp[i] "/") == 1)) under = 1
              if (!under) print }' "$EXPECTED" > "$R.tmp/.shipit-manifest" || { echo "error=cannot write manifest (disk full?)"; exit \(ScriptExit.manifestFailed); }
          rm -f "$EXPECTED"
          got=$(cd "$R.tmp" && find . -type f ! -name .shipit-manifest -printf . | wc -c); want=$(wc -l < "$R.tmp/.shipit-manifest")
          if [ "$got" -ne "$want" ]; then
            echo "error=the release built holds $got file(s), the artifact's manifest $want"
            # A delta's host is sent the whole artifact instead; a full upload's staging fails.
            [ -n "${CTL:-}" ] && exit \(ScriptExit.deltaMismatch)
            exit \(ScriptExit.manifestFailed)
          fi
        else
          (cd "$R.tmp" && find . -type f ! -name .shipit-manifest -print0 | LC_ALL=C sort -z | xargs -0 -r sha256sum > .shipit-manifest) || { echo "error=cannot write manifest (disk full?)"; exit \(ScriptExit.manifestFailed); }
        fi
        # What changed against the release running now (A added, M modified, D deleted), for the ledger.
        if [ -f "$CURRENT/.shipit-manifest" ]; then
          ch=$(awk 'NR == FNR { old[substr($0, 69)] = substr($0, 1, 64); next }
                    { p = substr($0, 69); if (!(p in old)) print "A " p; else if (old[p] != substr($0, 1, 64)) print "M " p; delete old[p] }
                    END { for (p in old) print "D " p }' "$CURRENT/.shipit-manifest" "$R.tmp/.shipit-manifest" | LC_ALL=C sort)
          # Counted and listed (the first \(Self.changeListLimit)) by the shell itself, a line at a time.
          n=0; oldifs=$IFS; IFS=$NL; set -f
          for line in $ch; do n=$((n + 1)); [ "$n" -gt \(Self.changeListLimit) ] || printf 'change=%s\\n' "$line"; done
          set +f; IFS=$oldifs
          echo "changed=$n"
        fi
        if [ -e "$R" ] || [ -L "$R" ]; then remove_tree "$R"; fi
        mv "$R.tmp" "$R" || { echo "error=cannot move the release into place (releases/$ID)"; exit \(ScriptExit.releaseNotMoved); }
        rm -f "$UPLOAD"
        sync -f "$R" 2>/dev/null || true
        echo "extracted=$ID"
        """
}
