/// The image strategy (docker or podman). Same shape as `SymlinkStrategy`: one remote
/// script per step, every value shell-quoted, facts reported as `key=value` lines.
///
/// On the host: containers are named `<app>-<release>` where a release id is `<tag>-<digest12>`;
/// the layout's `imageCurrent` holds the running release, `imageReleases` one line per release
/// ever created here (`<id> <name>@<digest>`, oldest first); the lock, failed marks and history
/// are shared with the symlink strategy.
public struct ImageStrategy: ReleaseStrategy {
    public let layout: HostLayout
    public let app: String
    public let image: ImageSettings
    let health: DeployConfig.Health?
    public let timeout: Double
    public let traffic: TrafficSwitch?
    public let roles: HostRoles
    /// The engine's restart policy for the app's and roles' containers (`supervisor:` other than
    /// none): a container whose process crashes is started again by the engine. A stop by shipit
    /// is not a crash.
    let restartPolicy: String?
    /// The release environment's identity: the same image with another config is another release.
    let envIdentity: String?
    /// Under systemd, one unit brings back at boot the containers that serve (the engine restarts
    /// a crashed one; nothing restarts a container after a reboot).
    let supervision: Supervision
    public var stageStep: String { "create" }

    public init(config: DeployConfig, image: ImageSettings) {
        layout = config.layout
        app = config.app
        self.image = image
        health = config.health
        timeout = config.connection.commandTimeout
        roles = config.hostRoles
        restartPolicy = config.supervisor.mode == .none ? nil : "on-failure"
        envIdentity = config.envIdentity
        supervision = Supervision(settings: config.supervisor, app: config.app, layout: config.layout)
        if let t = config.traffic, let h = config.health {
            var sw = TrafficSwitch(settings: t, layout: config.layout, health: h)
            if let r = config.rollout, r.hasRequestSteps { sw.split = RequestSplit(app: config.app, sticky: r.sticky) }
            // The front door's file of this app is named by it.
            sw.app = config.app
            traffic = sw
        } else {
            traffic = nil
        }
    }

    /// The traffic switch's part of a script; a slot's container stops within `stop_timeout`.
    func trafficPart(_ host: String?) -> TrafficScriptPart {
        traffic.scriptPart(host: host, extraVars: [("STOP_TIMEOUT", String(image.stopTimeout))])
    }

    /// `image_current`: the release the host runs (`$IMAGE_CURRENT`), empty before the first.
    static let imageCurrent = ShellFunction(
        "image_current",
        """
        image_current() { cat "$IMAGE_CURRENT" 2>/dev/null || true; }
        """)

    /// `record_current`: `$ID` is now the release the host runs (replaced whole, by a rename).
    static let recordCurrent = ShellFunction(
        "record_current", requires: [.fail],
        """
        record_current() {
          printf '%s\\n' "$ID" > "$IMAGE_CURRENT.tmp" && mv "$IMAGE_CURRENT.tmp" "$IMAGE_CURRENT" || fail \(ScriptExit.switchFailed) "cannot record the switch"
        }
        """)

    /// `record_release`: release `$ID` and its image `$REF` in `$IMAGE_RELEASES`, once.
    static let recordRelease = ShellFunction(
        "record_release",
        """
        record_release() { grep -qx "$ID $REF" "$IMAGE_RELEASES" 2>/dev/null || printf '%s %s\\n' "$ID" "$REF" >> "$IMAGE_RELEASES"; }
        """)

    /// `$REF`: the image reference release `$ID` was created from on this host (`$IMAGE_RELEASES`), or fail.
    static let lookupReference: ScriptText = """
        REF=$(awk -v id="$ID" '$1 == id { r = $2 } END { print r }' "$IMAGE_RELEASES" 2>/dev/null)
        [ -n "$REF" ] || fail \(ScriptExit.releaseMissing) "release $ID is not on this host"
        """

    /// `<tag>-<first 12 hex of the digest>`: readable, unique per content, a valid identifier;
    /// with a release environment, `-<its identity>` after it (a config-only release).
    public static func releaseID(tag: String, digest: String, environment: String? = nil) -> String {
        let hex = digest.hasPrefix("sha256:") ? String(digest.dropFirst(7)) : digest
        return "\(tag)-\(hex.prefix(12))" + (environment.map { "-" + $0 } ?? "")
    }

    /// The tag of release `id` made from `digest` (the inverse of `releaseID`), or nil.
    static func tag(ofRelease id: String, digest: String) -> String? {
        let hex = "-" + (digest.hasPrefix("sha256:") ? digest.dropFirst(7) : Substring(digest)).prefix(12)
        // `<tag>-<hex12>`, or `<tag>-<hex12>-<hex8>` for a release with an environment.
        for rest in [id, String(id.dropLast(9))] where rest.hasSuffix(hex) {
            let tag = String(rest.dropLast(hex.count))
            if !tag.isEmpty && isRelease(id, ofTag: tag) { return tag }
        }
        return nil
    }

    /// Whether `id` is a release of `tag` (with any environment).
    static func isRelease(_ id: String, ofTag tag: String) -> Bool {
        guard id.hasPrefix(tag + "-") else { return false }
        let rest = id.dropFirst(tag.count + 1).split(separator: "-", omittingEmptySubsequences: false)
        func hex(_ s: Substring, _ n: Int) -> Bool { s.count == n && s.allSatisfy(\.isHexDigit) }
        return (rest.count == 1 && hex(rest[0], 12)) || (rest.count == 2 && hex(rest[0], 12) && hex(rest[1], 8))
    }

    /// `$RELEASE_ENV_FILE`: the engine's `--env-file=` argument for release `$ID` when it has an
    /// environment file, else empty (used as `${RELEASE_ENV_FILE:+"$RELEASE_ENV_FILE"}`).
    static let releaseEnvArgument =
        #"RELEASE_ENV_FILE=; [ ! -f "$META/env/$ID.engine" ] || RELEASE_ENV_FILE="--env-file=$META/env/$ID.engine""#

    /// Every container of the release gets the engine's `--env-file`.
    public var containerEnvFile: Bool { true }
    public var releaseFilesOnHost: Bool { false }

    /// The env file's place on the host, when the config has one.
    var remoteEnvFile: String? { image.envFile == nil ? nil : layout.envFile(app: app) }

    /// Every script has the app's name, the engine (`eng`, `$ENGINE`) and the role containers'
    /// `run` arguments (`$ROLE_RUN_ARGS`).
    func script(_ step: HostStep, _ vars: [(String, String)], uses: [ShellFunction] = [], _ body: ScriptText)
        -> RemoteCommand
    {
        let base: [(String, String)] = [("APP", app), ShellFunction.engineVariable(image.engine)]
        return HostScript(
            step, layout: layout, timeout: timeout, variables: base + vars,
            uses: [.engine, .fail, .short, .appendHistory, Self.imageCurrent, Self.recordRelease, Self.recordCurrent]
                + uses, body
        ).command
    }

    /// The `create` arguments: labels, published port on the host's own address, env, env file, volumes.
    /// `port`: where the container is published (a slot's port with the traffic switch).
    public func createArguments(host: String, port: Int? = nil) -> String {
        // Published on the public listener's address, or (a slot, behind the proxy) the slots'.
        let address =
            port == nil ? health?.bindAddress(of: host) ?? "0.0.0.0" : health?.slotAddress(of: host) ?? "127.0.0.1"
        var args = [
            "--label", "shipit.app=\(app)", "-p",
            "\(HostAddress.withPort(address, port ?? image.port)):\(image.containerPort)",
        ]
        for (k, v) in image.env.sorted(by: { $0.key < $1.key }) { args += ["-e", "\(k)=\(v)"] }
        if let remoteEnvFile { args += ["--env-file", remoteEnvFile] }
        for v in image.volumes { args += ["-v", v] }
        if let restartPolicy { args += ["--restart", restartPolicy] }
        return ShellQuote.join(args)
    }

    /// Creates the release's container if it is not there, from the image already on the host
    /// (never pulls: a rollback must not depend on the registry), and records the release.
    static func ensureContainer(createArgs: String) -> ScriptText {
        """
        NAME="$APP-$ID"
        if ! eng container inspect "$NAME" >/dev/null 2>&1; then
          eng image inspect "$REF" >/dev/null 2>&1 || fail \(ScriptExit.imageMissing) "image $REF is not on this host any more"
          \(releaseEnvArgument)
          out=$(eng create --name "$NAME" --label "shipit.release=$ID" --label "shipit.digest=${REF##*@}" ${RELEASE_ENV_FILE:+"$RELEASE_ENV_FILE"} \(createArgs) "$REF" 2>&1) || fail \(ScriptExit.createFailed) "create failed: $(short "$out")"
        fi
        record_release
        """
    }

    /// What the boot unit starts on `host`: the serving container (the app's host), the proxy
    /// (a managed switch) and the role containers.
    func bootProcesses(_ host: String) -> [Supervision.Process] {
        let runsApp = roles.runsApp(host)
        // The front door has a unit of its own, shared by the host's apps.
        let own = traffic?.settings.mode == .managed && traffic?.frontDoor == nil
        let nginx = runsApp && own ? traffic?.settings.nginx : nil
        let roleNames = roles.processes(on: host).map(\.name)
        guard runsApp || !roleNames.isEmpty else { return [] }
        return [.containers(engine: image.engine, roles: roleNames, nginx: nginx)]
    }

    /// The boot unit, after the lock: written and enabled where systemd supervises (`$SV`, from
    /// `Supervision.detect`), disabled where it no longer does. Then `$SV` is none for the rest of
    /// the script: the containers are not units of their own, so the switch's unit handling (the
    /// symlink strategy's slots) is not theirs.
    static let bootUnit: ScriptText = """
        if [ "$SV" = systemd ] && [ -n "$UNIT_NAMES" ]; then
          write_units
          svctl -q is-enabled "$UNIT_PREFIX-containers.service" 2>/dev/null || svctl enable -q "$UNIT_PREFIX-containers.service" 2>/dev/null || echo "supervisor.warning=$UNIT_PREFIX-containers.service could not be enabled: the containers will not start at boot"
        elif [ -d /run/systemd/system ] && [ -f "$UNITS/containers.start" ]; then
          svctl disable -q "$UNIT_PREFIX-containers.service" >/dev/null 2>&1
          rm -f "$UNITS/containers.start"
          echo "supervisor.retired=$UNIT_PREFIX"
        fi
        SV=none
        """

    /// Writable deploy_to, engine runs, lock, current release; then the pull (the image on every
    /// host before any switch) and its digest.
    public func preflight(_ lock: LockRequest, deploying: ReleaseInput?, inventory: Bool, host: String) -> RemoteCommand
    {
        let pull = deploying?.imagePullReference(image.name) ?? ""
        let proxy = roles.runsApp(host) ? traffic?.preflight(host: host) : nil
        let units =
            supervision.settings.mode == .none
            ? [("UNIT_NAMES", "")] : supervision.fileVariables(supervision.files(bootProcesses(host)))
        let cmd = script(
            .preflight,
            HostScript.lockVariables(lock) + [
                ("PULL", pull), ("NAMEONLY", image.name), ("TLS", image.tlsVerify ? "" : "--tls-verify=false"),
            ]
                + supervision.variables + units + (proxy?.vars ?? []),
            uses: [.takeLock] + Supervision.functions + (proxy == nil ? [] : TrafficSwitch.functions),
            Supervision.detect + """
                mkdir -p "$FAILED" "$SHARED" 2>/dev/null && [ -w "$D" ] || fail \(ScriptExit.notWritable) "$D is not writable by $(id -un)"
                # shellcheck disable=SC2086 # the engine's words
                set -- $ENGINE
                command -v "$1" >/dev/null 2>&1 || fail \(ScriptExit.missingTool) "container engine '$1' not found"
                take_lock
                # An env file upload a lost run left under its temporary name (only a lock holder may remove it).
                for f in "$SHARED"/.env-*.part-*; do [ -e "$f" ] && rm -f "$f"; done
                """ + Self.bootUnit + """
                    echo "current=$(image_current)"
                    if [ -n "$PULL" ]; then
                      out=$(eng pull $TLS "$PULL" 2>&1) || fail \(ScriptExit.pullFailed) "pull $PULL failed: $(short "$out")"
                      digests=$(eng image inspect --format '{{range .RepoDigests}}{{println .}}{{end}}' "$PULL" 2>/dev/null)
                      # A pinned pull must have its own digest; a tag has the one the registry gave for it.
                      case $PULL in
                        *@*) ref=$(printf '%s\n' "$digests" | grep -m1 -x -F "$PULL") ;;
                        *) ref=$(printf '%s\n' "$digests" | grep -m1 "^$NAMEONLY@sha256:") ;;
                      esac || fail \(ScriptExit.noDigest) "no digest for $PULL"
                      echo "digest=${ref##*@}"
                    fi
                    """ + (proxy?.body ?? .empty))
        // The pre-flight already reported the slots: only the releases, marks and lock to add.
        return inventory ? cmd.then(script(.inventory, [], Self.inventoryBody + "true")) : cmd
    }

    /// Tags move: every host must have pulled the same content, and that digest is the release.
    public func resolve(_ input: ReleaseInput, preflight: [String: ScriptOutput], hosts: [String]) throws(ShipitError)
        -> ResolvedRelease
    {
        guard let tag = input.imageTagName, let pull = input.imagePullReference(image.name) else {
            throw ShipitError.input("--tag: strategy image deploys an image tag (--tag v2), not --from/--ref")
        }
        // ScriptOutput keeps only a well-formed digest; a host without one stops the deploy here.
        if let host = hosts.first(where: { preflight[$0]?.first(.digest).map(HostValue.isDigest) != true }) {
            throw ShipitError("\(host): no valid image digest for \(pull) (expected sha256: and 64 hex digits)")
        }
        let digests = Set(hosts.compactMap { preflight[$0]?.first(.digest) })
        guard digests.count == 1, let digest = digests.first else {
            let seen = hosts.map { "\($0): \(preflight[$0]?.first(.digest) ?? "?")" }.joined(separator: ", ")
            throw ShipitError("\(pull) resolved to different digests (the tag moved during the pull): \(seen)")
        }
        let id = Self.releaseID(tag: tag, digest: digest, environment: envIdentity)
        if case .imageDigest(_, let pinned, let release) = input {
            guard digest == pinned else { throw ShipitError("\(pull) came with digest \(digest) on the hosts") }
            // The environment copied from the release must make that release again, or the
            // hosts would get another one (the config's env/secrets names changed since).
            guard id == release else {
                throw ShipitError(
                    "\(pull) with the environment as it is now makes release \(id), not \(release): env: or secrets: names changed since \(release); deploy the tag again instead"
                )
            }
        }
        return ResolvedRelease(
            id: id, input: input, imageReference: "\(image.name)@\(digest)", imageDigest: digest)
    }

    /// The env file (0600), then the release's container, created but not started.
    public func stage(_ release: ResolvedRelease, host: String) throws(ShipitError) -> StagePlan {
        var uploads: [StagePlan.Upload] = []
        if let local = image.envFile, let remote = remoteEnvFile {
            uploads.append(.init(localPath: local, remotePath: remote, label: "env file upload"))
        }
        // With the traffic switch each slot gets its own container at warm-up (its port is fixed
        // at creation): staging only checks the image and records the release.
        let body: ScriptText =
            traffic == nil && roles.runsApp(host)
            ? Self.ensureContainer(createArgs: createArguments(host: host))
            : """
            eng image inspect "$REF" >/dev/null 2>&1 || fail \(ScriptExit.imageMissing) "image $REF is not on this host any more"
            record_release
            """
        let cmd = script(
            .create, [("ID", release.id), ("REF", release.imageReference ?? "")], body + "echo \"created=$ID\"")
        return StagePlan(uploads: uploads, command: cmd)
    }

    public func migrationSource(_ release: ResolvedRelease, settings: MigrationSettings) throws(ShipitError)
        -> MigrationSource
    {
        .remote(
            MigrationCommands(layout: layout, settings: settings)
                .fetchFromImage(engine: image.engine, reference: release.imageReference ?? "", releaseID: release.id))
    }

    public var migrationsFromImage: Bool { true }

    public var slots: SlotOperations? { traffic.map { ImageSlots(strategy: self, traffic: $0) } }

    public func requiredTools(host: String) -> [(tool: String, why: String)] {
        [(image.engine.first ?? "podman", "image strategy (image.engine)")]
    }

    /// (Re)creates the target's container if needed, stops every other running container of the
    /// app, starts the target, records it as current.
    public func switchTo(releaseID: String, host: String, historyLine: String) -> RemoteCommand {
        script(
            .switch,
            [
                ("ID", releaseID), ("REF", ""), ("HISTORY_LINE", historyLine),
                ("STOP_TIMEOUT", String(image.stopTimeout)),
                ("RUNS_APP", roles.runsApp(host) ? "1" : ""),
            ], uses: Self.roleFunctions,
            Self.lookupReference
                + """
                prev=$(image_current)
                echo "previous=$prev"
                """
                // Few engine calls: each costs the host a process start (rootless podman: ~0.1 s of CPU).
                + .when(
                    "[ -n \"$RUNS_APP\" ]",
                    """
                    [ -z "$prev" ] || [ "$prev" = "$ID" ] || eng stop -t "$STOP_TIMEOUT" "$APP-$prev" >/dev/null 2>&1 || true
                    """
                        + .when(
                            "! out=$(eng start \"$APP-$ID\" 2>&1)",
                            Self.ensureContainer(createArgs: createArguments(host: host))
                                + """
                                out=$(eng start "$NAME" 2>&1) || fail \(ScriptExit.startFailed) "start $NAME failed: $(short "$out")"
                                """))
                    + """
                    record_release
                    record_current
                    echo "switched=$ID"
                    append_history
                    [ ! -e "$FAILED/$ID" ] || rm -f "$FAILED/$ID"
                    """ + restartRoles(host: host))
    }

    public func retreat(releaseID: String, host: String, historyLine: String) -> RemoteCommand {
        let t = trafficPart(host)
        return script(
            .retreat,
            [("ID", releaseID), ("HISTORY_LINE", historyLine), ("STOP_TIMEOUT", String(image.stopTimeout))] + t.vars,
            uses: [.appendHistory] + t.uses + Self.roleFunctions,
            t.setup
                + """
                append_history
                cur=$(image_current)
                if [ "$cur" = "$ID" ]; then rm -f "$IMAGE_CURRENT" || fail \(ScriptExit.switchFailed) "cannot remove the current release record"; fi
                """ + t.retreatSlots + stopRoles(host: host)
                    + """
                    eng stop -t "$STOP_TIMEOUT" "$APP-$ID" >/dev/null 2>&1 || true
                    echo "stopped=yes"
                    echo "retreated=$ID"
                    """)
    }

    /// Keeps the newest `keep_images` releases (never current or the rollback target), removes
    /// older containers and images, releases the lock.
    public func finish(previous: String?, holder: String, historyLine: String?) -> RemoteCommand {
        let t = trafficPart(nil)
        return script(
            .finish,
            [
                ("KEEP_RELEASES", String(image.keepImages)), ("KEEP_PREVIOUS", previous ?? ""), ("HOLDER", holder),
                ("HISTORY_LINE", historyLine ?? ""),
            ] + t.vars, uses: [.appendHistory, .releaseLock] + t.uses,
            t.setup + "append_history\ncur=$(image_current)" + t.runningReleases
                + """
                if [ -f "$IMAGE_RELEASES" ]; then
                  total=$(wc -l < "$IMAGE_RELEASES")
                  n=0
                  : > "$IMAGE_RELEASES.new"
                  while read -r id ref; do
                    n=$((n + 1))
                    if [ $((total - n)) -lt "$KEEP_RELEASES" ] || [ "$id" = "$cur" ] || [ "$id" = "$KEEP_PREVIOUS" ] || printf '%s\\n' "$running" | grep -qxF -- "$id"; then
                      printf '%s %s\\n' "$id" "$ref" >> "$IMAGE_RELEASES.new"
                    else
                      eng rm -f "$APP-$id" \(traffic?.settings.slots.map { "\"$APP-$id-s\($0)\"" }.joined(separator: " ") ?? "") >/dev/null 2>&1 || true
                      eng rmi "$ref" >/dev/null 2>&1 || true
                      rm -f "$FAILED/$id" "$META/env/$id" "$META/env/$id.engine"
                      echo "pruned=$id"
                    fi
                  done < "$IMAGE_RELEASES"
                  mv "$IMAGE_RELEASES.new" "$IMAGE_RELEASES"
                fi
                # Environment files of releases no longer here (pruned, abandoned, a lost run's).
                for f in "$META/env"/*; do
                  [ -f "$f" ] || continue
                  r=${f##*/}; r=${r%.part}; r=${r%.engine}
                  awk -v id="$r" '$1 == id { found = 1 } END { exit !found }' "$IMAGE_RELEASES" 2>/dev/null || rm -f "$f"
                done
                """ + t.standbyTimer + "release_lock")
    }

    /// A release that went live and failed stays (stopped, marked failed) for inspection; one that
    /// never went live loses its container.
    public func abandon(releaseID: String, keepForInspection: Bool, holder: String, historyLine: String?, host: String)
        -> RemoteCommand
    {
        let t = trafficPart(host)
        return script(
            .abandon,
            [
                ("ID", releaseID), ("HOLDER", holder), ("HISTORY_LINE", historyLine ?? ""),
                ("KEEP_FAILED", keepForInspection ? "1" : ""),
            ] + t.vars, uses: [.appendHistory, .releaseLock] + t.uses,
            t.setup + "append_history" + t.stopFailedSlots
                + """
                if [ -n "$KEEP_FAILED" ]; then
                  { eng container inspect "$APP-$ID" >/dev/null 2>&1 || grep -q "^$ID " "$IMAGE_RELEASES" 2>/dev/null; } && : > "$FAILED/$ID"
                elif [ "$(image_current)" != "$ID" ]; then
                  eng rm -f "$APP-$ID" >/dev/null 2>&1 || true
                fi
                release_lock
                """)
    }

    /// Releases whose image is still on the host (one engine call for all), oldest first.
    static let inventoryBody: ScriptText =
        """
        echo "current=$(image_current)"
        if [ -f "$IMAGE_RELEASES" ]; then
          present=$(eng images --digests --format '{{.Repository}}@{{.Digest}}' 2>/dev/null)
          while read -r id ref; do
            printf '%s\\n' "$present" | grep -qxF "$ref" && { echo "release=$id"; echo "ref.$id=$ref"; }
          done < "$IMAGE_RELEASES"
        fi
        """ + .marksAndLock

    public func inventory(host: String) -> RemoteCommand {
        let t = trafficPart(host)
        let sv = supervisorFacts(host)
        return script(
            .inventory, t.vars + sv.vars, uses: t.uses + sv.uses, t.setup + Self.inventoryBody + t.slotFacts + sv.body)
    }

    /// The boot unit's state for `status`, `verify` and triage: the host is supervised when its
    /// pre-flight wrote the unit's launcher (nothing else of the image strategy is a unit).
    func supervisorFacts(_ host: String) -> (vars: [(String, String)], uses: [ShellFunction], body: ScriptText) {
        guard supervision.settings.mode != .none else { return ([], [], "true") }
        let f = supervision.facts(bootProcesses(host))
        return (
            supervision.variables + f.vars, f.uses,
            #"SV=none; [ ! -f "$UNITS/containers.start" ] || SV=systemd"# + f.body
        )
    }

    /// The inventory, whether the current release's container runs, and history lines.
    public func inspect(verify: Bool, historyLines: Int, host: String) -> RemoteCommand {
        let t = trafficPart(host)
        let sv = supervisorFacts(host)
        return script(
            .inspect,
            [("HISTORY_LINES", String(historyLines)), ("RUNS_APP", roles.runsApp(host) ? "1" : "")] + t.vars + sv.vars,
            uses: t.uses + sv.uses,
            t.setup + Self.inventoryBody + t.slotFacts + sv.body
                + """
                cur=$(image_current)
                name="$APP-$cur"
                act=$(cat "$SLOTS/active" 2>/dev/null || true)
                [ -z "$act" ] || [ ! -f "$SLOTS/$act.container" ] || name=$(cat "$SLOTS/$act.container")
                if [ -n "$cur" ] && [ -n "$RUNS_APP" ]; then
                  st=$(eng container inspect --format '{{.State.Status}}' "$name" 2>/dev/null || echo missing)
                  echo "container=$st"
                fi
                """ + .historyTail + "true")
    }
}

/// Role processes as containers (`<app>-<role>`), restarted in the switch scripts.
extension ImageStrategy {
    /// A role container's `run` arguments: the app's environment, env file and volumes (no port).
    func roleRunArguments() -> String {
        var args: [String] = []
        for (k, v) in image.env.sorted(by: { $0.key < $1.key }) { args += ["-e", "\(k)=\(v)"] }
        if let remoteEnvFile { args += ["--env-file", remoteEnvFile] }
        for v in image.volumes { args += ["-v", v] }
        if let restartPolicy { args += ["--restart", restartPolicy] }
        return ShellQuote.join(args)
    }

    /// `$REF` must be set (the switch scripts look it up: `lookupReference`).
    func restartRoles(host: String) -> ScriptText {
        let procs = roles.processes(on: host)
        guard !procs.isEmpty else { return .empty }
        return "ROLE_RUN_ARGS=\(ShellQuote.quote(roleRunArguments()))" + RoleScript.containerRestart(procs)
    }

    func stopRoles(host: String) -> ScriptText {
        let procs = roles.processes(on: host)
        guard !procs.isEmpty else { return .empty }
        return RoleScript.containerStop(procs)
    }

    /// The role container functions, for the scripts that start or stop them.
    static let roleFunctions = [RoleScript.containerRestart, RoleScript.containerStop]

    public func roleCheck(host: String, deadline: Double, interval: Double) -> RemoteCommand? {
        let procs = roles.processes(on: host)
        guard !procs.isEmpty else { return nil }
        return script(
            .roleCheck, [], uses: [RoleScript.check, RoleScript.containerFind],
            RoleScript.checkCalls(procs, kind: "container", deadline: deadline, interval: interval))
    }
}
