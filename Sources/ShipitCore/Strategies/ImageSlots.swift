/// The image strategy's traffic switch steps: one container per slot (its port is fixed when it
/// is created), then the proxy pointed at it and the release recorded as current.
struct ImageSlots: SlotOperations {
    let strategy: ImageStrategy
    let traffic: TrafficSwitch

    /// The release's container for `slot` (`<app>-<release>-s<port>`, published on the slot's
    /// port), created from the image already on the host if needed, then started; its pid is what
    /// the slot records.
    func warm(releaseID: String, host: String, slot: Int, reuse: Bool) -> RemoteCommand {
        let t = strategy.trafficPart(host)
        let startContainer: ScriptText = """
            NAME="$APP-$ID-s$SLOT"
            if ! eng container inspect "$NAME" >/dev/null 2>&1; then
              eng image inspect "$REF" >/dev/null 2>&1 || fail \(ScriptExit.imageMissing) "image $REF is not on this host any more"
              \(ImageStrategy.releaseEnvArgument)
              out=$(eng create --name "$NAME" --label "shipit.release=$ID" --label "shipit.slot=$SLOT" --label "shipit.digest=${REF##*@}" ${RELEASE_ENV_FILE:+"$RELEASE_ENV_FILE"} \(strategy.createArguments(host: host, port: slot)) "$REF" 2>&1) || fail \(ScriptExit.createFailed) "create failed: $(short "$out")"
            fi
            out=$(eng start "$NAME" 2>&1) || fail \(ScriptExit.startFailed) "start $NAME failed: $(short "$out")"
            printf '%s\\n' "$NAME" > "$SLOTS/$SLOT.container"
            eng container inspect --format '{{.State.Pid}}' "$NAME" > "$SHIPIT_PIDFILE" 2>/dev/null
            """
        return strategy.script(
            .warm, t.vars + [("ID", releaseID), ("SLOT", String(slot)), ("REUSE", reuse ? "1" : "")], uses: t.uses,
            ImageStrategy.lookupReference + traffic.warmBody(startBody: startContainer))
    }

    func switchTraffic(releaseID: String, host: String, slot: Int, historyLine: String) -> RemoteCommand {
        let (vars, body) = traffic.switchBody(
            host: host,
            recordCurrent: """
                record_current
                """)
        // The role containers run the release's image: its reference, as the warm-up found it.
        let roleRestart =
            strategy.roles.processes(on: host).isEmpty
            ? ScriptText.empty : ImageStrategy.lookupReference + strategy.restartRoles(host: host)
        return strategy.script(
            .switch, vars + [("ID", releaseID), ("SLOT", String(slot)), ("HISTORY_LINE", historyLine)],
            uses: TrafficSwitch.functions + ImageStrategy.roleFunctions,
            "PREVIOUS=$(image_current)" + body + roleRestart)
    }
}
