/// The symlink strategy: each release in `releases/<id>`, `current` switched
/// atomically, the app started by the configured `start` command. Pure builders: each step on a
/// host is ONE remote script (one exec channel).
public struct SymlinkStrategy: ReleaseStrategy {
    public let layout: HostLayout
    public let app: String
    public let start: String?
    public let stop: String?
    public let health: DeployConfig.Health?
    public let shared: [String]
    public let keepReleases: Int
    public let diskFactor: Double
    public let timeout: Double
    public let traffic: TrafficSwitch?
    public let roles: HostRoles
    /// Who keeps the app, its slots, roles and proxy running after the deploy.
    public let supervision: Supervision
    /// How files reach the hosts: an artifact that rides on the pre-flight's channel is sent whole.
    public let upload: ConnectionSettings.UploadMode
    /// `ssh.delta`: whether the pre-flight offers the kept releases a delta copies from.
    public let delta: Bool
    public var stageStep: String { "upload" }
    public var supervisor: Supervision? { supervision.settings.mode == .none ? nil : supervision }

    public init(config: DeployConfig) {
        layout = config.layout
        app = config.app
        start = config.start
        stop = config.stop
        health = config.health
        shared = config.shared
        keepReleases = config.keepReleases
        diskFactor = config.diskFactor
        timeout = config.connection.commandTimeout
        upload = config.connection.upload
        delta = config.connection.delta
        roles = config.hostRoles
        supervision = Supervision(settings: config.supervisor, app: config.app, layout: config.layout)
        if let t = config.traffic, let h = config.health {
            var sw = TrafficSwitch(settings: t, layout: config.layout, health: h)
            if let r = config.rollout, r.hasRequestSteps { sw.split = RequestSplit(app: config.app, sticky: r.sticky) }
            sw.legacyStop = config.stop ?? ""
            sw.legacyStart = config.start ?? ""
            sw.app = config.app
            traffic = sw
        } else {
            traffic = nil
        }
    }

    /// How many changed file names an attempt keeps (the count is always exact).
    public static let changeListLimit = 100

    func script(_ step: HostStep, _ vars: [(String, String)], uses: [ShellFunction] = [], _ body: ScriptText)
        -> RemoteCommand
    {
        HostScript(
            step, layout: layout, timeout: timeout, variables: vars + supervision.variables,
            uses: [.fail, .short, .currentID, .removeTree] + uses, body
        ).command
    }

    /// Free space pre-flight asks for: the artifact times `disk_factor` (the tarball and its
    /// extracted tree are on disk together), in KB.
    public func requiredKB(_ artifact: Artifact) -> Int64 {
        Int64(Double(artifact.size) * max(diskFactor, 1) / 1024) + 1
    }

    static let tools = ["tar", "gzip", "sha256sum", "readlink", "mv"]

    /// deploy_to writable, tools present, lock taken, a lost run's partial uploads removed, enough
    /// disk, current release read.
    public func preflight(_ lock: LockRequest, deploying: ReleaseInput?, inventory: Bool, host: String) -> RemoteCommand
    {
        var need: Int64 = 0
        // Shared paths the release does not hold (it would seed them): they must be on the host.
        var sharedNeeded: [String] = []
        // Kept releases matter only to an artifact too big to ride on the pre-flight's channel.
        var offersKept = false
        if case .artifact(let a)? = deploying {
            need = requiredKB(a)
            sharedNeeded = a.links.sharedPathsNotInRelease(shared)
            offersKept = delta && !upload.streams(bytes: a.size) && a.links.hard.isEmpty
        }
        let proxy = roles.runsApp(host) ? traffic?.preflight(host: host) : nil
        let units =
            supervision.settings.mode == .none ? [] : supervision.fileVariables(supervision.files(processes(on: host)))
        let cmd = script(
            .preflight,
            HostScript.lockVariables(lock) + [
                ("NEED_KB", String(need)), ("TOOLS", Self.tools.joined(separator: " ")),
                ("SHARED_NEEDED", sharedNeeded.joined(separator: "\n")),
            ] + units + (proxy?.vars ?? []),
            uses: [.takeLock] + Supervision.functions + (proxy == nil ? [] : TrafficSwitch.functions),
            Supervision.detect
                + """
                # Before anything is created: a shared path that is neither on the host nor in the release
                # would become an empty directory where the app expects its config.
                if [ -n "$SHARED_NEEDED" ]; then
                  missing=; oldifs=$IFS; IFS=$NL; set -f
                  for p in $SHARED_NEEDED; do [ -e "$SHARED/$p" ] || missing="${missing:+$missing, }$p"; done
                  set +f; IFS=$oldifs
                  [ -z "$missing" ] || { echo "error=shared path(s) not on this host: $missing (in $SHARED); the release does not have them either. Create them on the host (they are linked into every release), or ship them in the release to seed shared/ on a first deploy"; exit \(ScriptExit.sharedMissing); }
                fi
                { [ -d "$RELEASES" ] && [ -d "$SHARED" ] && [ -d "$FAILED" ] || mkdir -p "$RELEASES" "$SHARED" "$FAILED" 2>/dev/null; } && [ -w "$D" ] || { echo "error=$D is not writable by $(id -un)"; exit \(ScriptExit.notWritable); }
                for t in $TOOLS; do command -v "$t" >/dev/null 2>&1 || { echo "error=required command '$t' not found"; exit \(ScriptExit.missingTool); }; done
                take_lock
                # Leftovers of a run that lost this host mid-upload (only a lock holder may remove
                # them): files being sent (SFTP's `.part-*` names too), carried manifests, releases/*.tmp.
                for f in "$META"/upload-*.tar.gz "$META"/upload-*.tar.gz.part* "$META"/upload-*.manifest "$META"/upload-*.manifest.part* "$RELEASES"/*.tmp; do [ -e "$f" ] && remove_tree "$f"; done
                if [ "$NEED_KB" -gt 0 ]; then
                  avail=$(df -Pk "$D" | awk 'NR==2 {print $4}')
                  [ "$avail" -ge "$NEED_KB" ] || { echo "error=only ${avail} KB free in $D, need ${NEED_KB} KB"; exit \(ScriptExit.diskFull); }
                fi
                """ + Supervision.install
                    + """
                    current_id; cur=$CUR
                    echo "current=${cur##*/}"
                    """ + (offersKept ? Self.keptReleases : .empty) + (proxy?.body ?? .empty))
        // The pre-flight already reported the slots: only the releases, marks and lock to add.
        return inventory ? cmd.then(script(.inventory, [], Self.inventoryBody + "true")) : cmd
    }

    public var preflightCarriesArtifact: Bool { true }

    public func preflightCarrying(_ lock: LockRequest, artifact: Artifact, warm: Bool, host: String)
        -> RemoteCommand?
    {
        if warm, let traffic {
            return preflightAndStage(lock, artifact: artifact, host: host).thenContained(
                SymlinkSlots(strategy: self, traffic: traffic).warm(
                    releaseID: artifact.releaseID, host: host, slot: nil, reuse: true),
                as: "warm")
        }
        return preflightAndStage(lock, artifact: artifact, host: host)
    }

    /// A deploy's pre-flight and staging in one exec channel: the checks and the lock first (the
    /// script does not read stdin until they pass), then the artifact received on stdin, checked
    /// and extracted. A host that fails its checks takes none of it.
    public func preflightAndStage(_ lock: LockRequest, artifact a: Artifact, host: String) -> RemoteCommand {
        preflight(lock, deploying: .artifact(a), inventory: false, host: host)
            .thenReceiving(
                extract(releaseID: a.releaseID, sha256: a.sha256, needsGNUTar: a.links.needsGNUTar, zipped: a.zipped),
                stdinAt: layout.upload(a.releaseID))
    }

    public func resolve(_ input: ReleaseInput, preflight: [String: ScriptOutput], hosts: [String]) throws(ShipitError)
        -> ResolvedRelease
    {
        guard case .artifact = input else {
            throw ShipitError.input(
                "--tag: only for strategy image; this config uses symlink (--from DIR or --ref GITREF)")
        }
        return ResolvedRelease(id: input.provisionalID, input: input)
    }

    /// Upload the artifact, then extract it. A big one's manifest goes with it: each host writes
    /// it instead of hashing every file again (the artifact's sha256 already vouches for them).
    public func stage(_ release: ResolvedRelease, host: String) throws(ShipitError) -> StagePlan {
        guard case .artifact(let a) = release.input else { throw Self.needsArtifact }
        var uploads: [StagePlan.Upload] = []
        var expected = ""
        if let manifest = a.manifest {
            expected = layout.uploadManifest(release.id)
            uploads.append(.init(localPath: manifest.path, remotePath: expected, label: nil))
        }
        // The artifact last: streamed, it shares the staging script's channel.
        uploads.append(.init(localPath: a.path, remotePath: layout.upload(release.id), label: nil))
        return StagePlan(
            uploads: uploads,
            command: extract(
                releaseID: release.id, sha256: a.sha256, needsGNUTar: a.links.needsGNUTar, zipped: a.zipped,
                expected: expected, expectedSHA256: a.manifest?.sha256 ?? ""))
    }

    public func migrationSource(_ release: ResolvedRelease, settings: MigrationSettings) throws(ShipitError)
        -> MigrationSource
    {
        guard case .artifact(let a) = release.input else { throw Self.needsArtifact }
        return .artifact(path: a.path)
    }

    public var migrationsFromImage: Bool { false }

    /// Its processes read the shell file (`set -a; . file`): `start`, roles, `exec --release`.
    public var containerEnvFile: Bool { false }
    public var releaseFilesOnHost: Bool { true }

    static let needsArtifact = ShipitError.input("the symlink strategy ships an artifact (--from DIR or --ref GITREF)")

    public func requiredTools(host: String) -> [(tool: String, why: String)] {
        let processes = roles.processes(on: host)
        // setsid: each role process runs in a session of its own (a stop reaches its children).
        return Self.tools.map { ($0, "symlink releases") }
            + (processes.isEmpty
                ? [] : [("setsid", "role processes (\(processes.map(\.name).joined(separator: ", ")))")])
    }

    public var slots: SlotOperations? { traffic.map { SymlinkSlots(strategy: self, traffic: $0) } }

    /// Atomic switch of `current` to `releases/<id>`, a host-local history line, then `start` in
    /// the release directory with its output kept in a log file (a daemon must not hold the channel).
    public func switchTo(releaseID: String, host: String, historyLine: String) -> RemoteCommand {
        let retire = TrafficSwitch.retireProxy(port: health?.port, address: health?.bindAddress(of: host))
        return script(
            .switch,
            [
                ("ID", releaseID), ("START", roles.runsApp(host) ? start ?? "" : ""), ("HISTORY_LINE", historyLine),
                ("START_LOG", layout.startLog),
            ],
            uses: [.appendHistory] + Supervision.functions
                + (roles.processes(on: host).isEmpty ? [] : RoleScript.processFunctions),
            """
            [ -d "$RELEASES/$ID" ] || fail \(ScriptExit.releaseMissing) "release $ID is not on this host"
            current_id; prev=$CUR
            echo "previous=${prev##*/}"
            ln -sfn "releases/$ID" "$CURRENT.tmp" && mv -T "$CURRENT.tmp" "$CURRENT" || fail \(ScriptExit.switchFailed) "switch failed"
            echo "switched=$ID"
            append_history
            [ ! -e "$FAILED/$ID" ] || rm -f "$FAILED/$ID"
            """
                + .when(
                    "[ -n \"$START\" ]",
                    retire.before + .ifElse("supervised", Self.supervisedAppStart, else: startBody(host: host))
                        + "echo \"started=$ID\"" + retire.after)
                + restartRoles(host: host))
    }

    public func retreat(releaseID: String, host: String, historyLine: String) -> RemoteCommand {
        let t = traffic.scriptPart(host: host)
        // Without the traffic switch, only the configured `stop` knows how to stop the app.
        let procs = roles.processes(on: host)
        let stopRoles = procs.isEmpty ? ScriptText.empty : RoleScript.stop(procs)
        let stopBody: ScriptText =
            traffic != nil || !roles.runsApp(host)
            ? "echo stopped=yes"
            : .ifElse(
                "supervised", "unit_retire \"$UNIT_PREFIX.service\"; echo stopped=yes",
                else: .ifElse(
                    "[ -n \"$STOP\" ] && [ -d \"$RELEASES/$ID\" ]",
                    startBody(host: host, command: "STOP") + "echo stopped=yes",
                    else: "echo stopped=no"))
        return script(
            .retreat,
            [("ID", releaseID), ("HISTORY_LINE", historyLine), ("STOP", stop ?? ""), ("START_LOG", layout.startLog)]
                + t.vars, uses: [.appendHistory] + t.uses + RoleScript.processFunctions + Supervision.functions,
            t.setup
                + """
                append_history
                current_id; cur=$CUR
                if [ "${cur##*/}" = "$ID" ]; then rm -f "$CURRENT" || fail \(ScriptExit.switchFailed) "cannot remove current"; fi
                """ + t.retreatSlots + stopRoles + stopBody + "echo \"retreated=$ID\"")
    }

    /// Prunes old releases (never current, the rollback target, or a failed release still inside
    /// the keep window), then releases our lock.
    public func finish(previous: String?, holder: String, historyLine: String?) -> RemoteCommand {
        let t = traffic.scriptPart(host: nil)
        return script(
            .finish,
            [
                ("KEEP_RELEASES", String(keepReleases)), ("KEEP_PREVIOUS", previous ?? ""), ("HOLDER", holder),
                ("HISTORY_LINE", historyLine ?? ""),
            ]
                + t.vars, uses: [.appendHistory, .releaseLock] + t.uses,
            t.setup
                + """
                append_history
                current_id; cur=$CUR; cur=${cur##*/}
                """ + t.runningReleases
                    + """
                    # Newest first, by the shell's own glob (sorted; LC_ALL=C): no ls, grep, sort.
                    nl=$NL
                    newest=
                    for r in "$RELEASES"/*; do
                      [ -d "$r" ] || continue
                      case "$r" in *.tmp) continue ;; esac
                      newest="${r##*/}$nl$newest"
                    done
                    n=0; oldifs=$IFS; IFS=$nl; set -f
                    for r in $newest; do
                      n=$((n + 1))
                      [ "$n" -le "$KEEP_RELEASES" ] && continue
                      [ "$r" = "$cur" ] || [ "$r" = "$KEEP_PREVIOUS" ] && continue
                      case "$nl$running$nl" in *"$nl$r$nl"*) continue ;; esac
                      remove_tree "${RELEASES:?}/$r" "${FAILED:?}/$r" "$META/env/$r" && echo "pruned=$r"
                    done
                    set +f; IFS=$oldifs
                    # Environment files of releases no longer here (pruned, abandoned, a lost run's).
                    for f in "$META/env"/*; do
                      [ -f "$f" ] || continue
                      r=${f##*/}; r=${r%.part}; r=${r%.engine}
                      [ -d "$RELEASES/$r" ] || rm -f "$f"
                    done
                    """ + t.standbyTimer + "release_lock")
    }

    public func abandon(releaseID: String, keepForInspection: Bool, holder: String, historyLine: String?, host: String)
        -> RemoteCommand
    {
        let t = traffic.scriptPart(host: host)
        return script(
            .abandon,
            [
                ("ID", releaseID), ("HOLDER", holder), ("HISTORY_LINE", historyLine ?? ""),
                ("KEEP_FAILED", keepForInspection ? "1" : ""), ("UPLOAD", layout.upload(releaseID)),
                ("MANIFEST", layout.uploadManifest(releaseID)),
            ] + t.vars, uses: [.appendHistory, .releaseLock] + t.uses,
            t.setup + "append_history" + t.stopFailedSlots
                + """
                # This release's files only (another run may hold the lock by now): what was being
                # sent under SFTP's `.part-*` names too.
                for f in "$UPLOAD" "$UPLOAD".part* "$MANIFEST" "$MANIFEST".part* "$RELEASES/$ID.tmp" "$RELEASES/$ID.ctl.tmp"; do
                  if [ -e "$f" ] || [ -L "$f" ]; then remove_tree "$f"; fi
                done
                if [ -n "$KEEP_FAILED" ]; then
                  [ -d "$RELEASES/$ID" ] && : > "$FAILED/$ID"
                else
                  current_id; cur=$CUR; [ "${cur##*/}" = "$ID" ] || remove_tree "${RELEASES:?}/$ID" "$META/env/$ID"
                fi
                release_lock
                """)
    }

    /// Current (also left in `$cur`), releases oldest first, failed marks, lock.
    static let inventoryBody: ScriptText =
        """
        current_id; cur=$CUR; cur=${cur##*/}; echo "current=$cur"
        for r in "$RELEASES"/*; do [ -d "$r" ] || continue; case "$r" in *.tmp) continue ;; esac; echo "release=${r##*/}"; done
        """ + .marksAndLock

    /// Current, releases, marks, lock, the slots, and the supervisor with its units' states.
    public func inventory(host: String) -> RemoteCommand {
        let t = traffic.scriptPart(host: host)
        let sv = supervision.facts(processes(on: host))
        return script(
            .inventory, t.vars + sv.vars, uses: t.uses + sv.uses, t.setup + Self.inventoryBody + t.slotFacts + sv.body)
    }

    /// The inventory (with the supervisor's units); optionally the files of `current` checked against the manifest written at
    /// deploy time (`modified=` changed or missing, `added=` not in the manifest); optionally the
    /// newest history lines.
    public func inspect(verify: Bool, historyLines: Int, host: String) -> RemoteCommand {
        let t = traffic.scriptPart(host: host)
        let sv = supervision.facts(processes(on: host))
        return script(
            .inspect,
            [("VERIFY_FILES", verify ? "1" : ""), ("HISTORY_LINES", String(historyLines))] + t.vars + sv.vars,
            uses: t.uses + sv.uses,
            t.setup + Self.inventoryBody + t.slotFacts + sv.body
                + """
                if [ -n "$VERIFY_FILES" ]; then
                  if [ -z "$cur" ]; then echo "files=no-current"
                  elif [ ! -f "$CURRENT/.shipit-manifest" ]; then echo "files=no-manifest"
                  else
                    cd "$CURRENT" || fail \(ScriptExit.releaseMissing) "cannot enter the current release ($CURRENT)"
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
                """ + .historyTail + "true")
    }
}
