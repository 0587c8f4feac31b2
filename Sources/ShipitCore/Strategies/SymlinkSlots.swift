/// The symlink strategy's traffic switch steps: a release started from its directory on the idle
/// slot, then the proxy pointed at it and `current` switched in the same script.
struct SymlinkSlots: SlotOperations {
    let strategy: SymlinkStrategy
    let traffic: TrafficSwitch

    func warm(releaseID: String, host: String, slot: Int, reuse: Bool) -> RemoteCommand {
        warm(releaseID: releaseID, host: host, slot: Optional(slot), reuse: reuse)
    }

    /// `slot` nil: the host's idle slot, found by the script.
    func warm(releaseID: String, host: String, slot: Int?, reuse: Bool) -> RemoteCommand {
        strategy.script(
            .warm,
            traffic.variables(host: host) + [
                ("ID", releaseID), ("SLOT", slot.map(String.init) ?? ""), ("REUSE", reuse ? "1" : ""),
                ("START", strategy.start ?? ""), ("START_LOG", strategy.layout.startLog),
            ], uses: TrafficSwitch.functions,
            "[ -d \"$RELEASES/$ID\" ] || fail \(ScriptExit.releaseMissing) \"release $ID is not on this host\""
                + traffic.warmBody(
                    startBody: strategy.startBody(host: host), supervisedStart: SymlinkStrategy.supervisedSlotStart))
    }

    func switchTraffic(releaseID: String, host: String, slot: Int, historyLine: String) -> RemoteCommand {
        let (vars, body) = traffic.switchBody(
            host: host,
            recordCurrent: """
                ln -sfn "releases/$ID" "$CURRENT.tmp" && mv -T "$CURRENT.tmp" "$CURRENT" || fail \(ScriptExit.switchFailed) "switch of current failed"
                """)
        return strategy.script(
            .switch, vars + [("ID", releaseID), ("SLOT", String(slot)), ("HISTORY_LINE", historyLine)],
            uses: TrafficSwitch.functions + RoleScript.processFunctions,
            """
            [ -d "$RELEASES/$ID" ] || fail \(ScriptExit.releaseMissing) "release $ID is not on this host"
            current_id; PREVIOUS=$CUR; PREVIOUS=${PREVIOUS##*/}
            """ + body + strategy.restartRoles(host: host))
    }
}
