/// What the inventory and inspection scripts report of the supervisor (`SupervisorState` reads
/// it): the host's recorded decision and, under systemd, the state of each unit that should run
/// now — the serving slot's (never the standby's: it runs, but is not meant to come back at boot),
/// the managed proxy's, each role's, the app's without the traffic switch.
extension Supervision {
    /// The variables and functions `unitFacts` reads for `processes` (what runs on the host for long).
    func facts(_ processes: [Process]) -> (vars: [(String, String)], uses: [ShellFunction], body: ScriptText) {
        var slot = false
        var units: [String] = []
        for p in processes {
            switch p {
            // Which slot serves is the host's to say: the script names that unit.
            case .slot: slot = true
            case .proxy: units.append(proxyUnit)
            case .role(let r, _): units.append(roleUnit(r.name))
            case .app: units.append(appUnit)
            case .containers: units.append(containersUnit)
            }
        }
        return (
            [("WANTED_SLOT", slot ? "1" : ""), ("WANTED_UNITS", units.joined(separator: " "))], [Self.unitFacts],
            "unit_facts"
        )
    }

    /// `unit_facts`: `supervisor=systemd|none`; under systemd, one `unit.KIND=UNIT ACTIVE ENABLED
    /// RESTARTS RESULT` line per unit of `$WANTED_UNITS` (and the serving slot's with
    /// `$WANTED_SLOT`), all from ONE `systemctl show` (every fork costs, on every host at once);
    /// `supervisor.error=` when systemctl could not answer. Without a supervisor, no fork at all.
    static let unitFacts = ShellFunction(
        "unit_facts", requires: [supervised, svctl, .getValue, .short],
        """
        unit_facts() {
          if ! supervised; then echo "supervisor=none"; return 0; fi
          echo "supervisor=systemd"
          # Unit names made of the app's and roles' names (letters, digits, . _ -): split on purpose.
          # shellcheck disable=SC2086
          set -- $WANTED_UNITS
          if [ -n "$WANTED_SLOT" ]; then
            getv sa "$SLOTS/active"
            # Before the first switch no slot serves, and a number is all a slot may be.
            case "$sa" in "" | *[!0-9]*) ;; *) set -- "$UNIT_PREFIX-slot@$sa.service" "$@" ;; esac
          fi
          [ $# -gt 0 ] || return 0
          uf_out=$(svctl show -p Id,ActiveState,UnitFileState,NRestarts,Result -- "$@" 2>&1) || { echo "supervisor.error=systemctl show: $(short "$uf_out" 300)"; return 0; }
          # One block of properties per unit, in systemd's order, a blank line after each.
          uf_id=; uf_act=; uf_en=; uf_nr=; uf_res=
          while IFS= read -r uf_l; do
            case "$uf_l" in
              Id=*) uf_id=${uf_l#*=} ;;
              ActiveState=*) uf_act=${uf_l#*=} ;;
              UnitFileState=*) uf_en=${uf_l#*=} ;;
              NRestarts=*) uf_nr=${uf_l#*=} ;;
              Result=*) uf_res=${uf_l#*=} ;;
              "")
                uf_k=
                case "$uf_id" in
                  "$UNIT_PREFIX.service") uf_k=app ;;
                  "$UNIT_PREFIX-proxy.service") uf_k=proxy ;;
                  "$UNIT_PREFIX-containers.service") uf_k=containers ;;
                  "$UNIT_PREFIX-slot@"*) uf_k=slot ;;
                  "$UNIT_PREFIX-role-"*.service) uf_k=${uf_id#"$UNIT_PREFIX-role-"}; uf_k=role.${uf_k%.service} ;;
                esac
                [ -z "$uf_k" ] || echo "unit.$uf_k=$uf_id ${uf_act:--} ${uf_en:--} ${uf_nr:-0} ${uf_res:--}"
                uf_id=; uf_act=; uf_en=; uf_nr=; uf_res= ;;
            esac
          done <<EOF
        $uf_out

        EOF
        }
        """)
}
