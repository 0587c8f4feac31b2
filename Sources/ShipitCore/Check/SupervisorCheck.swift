/// `shipit check`'s supervisor line (docs/supervision.md): whether the host offers what
/// `supervisor:` asks for — systemd as its init, a manager that answers for shipit's units and, for
/// user units, a deploy user who lingers (else its units stop with its last session and never
/// start at boot). With `--fix`, a deploy user who does not linger is made to with
/// `loginctl enable-linger`, which logind allows the user itself where polkit says so; where it
/// does not, the item says what to run as root.
struct SupervisorCheck: Sendable {
    let supervision: Supervision

    var settings: SupervisorSettings { supervision.settings }

    /// The check script's part: `supervisor.init=systemd|other`, `supervisor.manager=STATE` (what
    /// `systemctl is-system-running` answers for shipit's units), `linger=yes|no`, and with `$FIX`
    /// `linger.fixed=USER` or `linger.fixfailed=WHY`.
    var script: (vars: [(String, String)], uses: [ShellFunction], body: ScriptText) {
        (
            supervision.variables, [Supervision.svctl, .short],
            """
            if [ "$SUPERVISOR" != none ]; then
              if [ ! -d /run/systemd/system ]; then
                echo "supervisor.init=other"
              else
                echo "supervisor.init=systemd"
                st=$(svctl is-system-running 2>&1)
                echo "supervisor.manager=$(short "${st:-no answer}" 200)"
                if [ "$UNIT_SCOPE" = user ]; then
                  me=$(id -un)
                  if [ ! -e "/var/lib/systemd/linger/$me" ] && [ -n "$FIX" ]; then
                    # The file is what logind reads at boot: it, not loginctl's status, says it worked.
                    if out=$(loginctl enable-linger "$me" 2>&1) && [ -e "/var/lib/systemd/linger/$me" ]; then
                      echo "linger.fixed=$me"
                    else
                      echo "linger.fixfailed=$(short "${out:-loginctl enable-linger reported nothing, and $me does not linger}" 300)"
                    fi
                  fi
                  if [ -e "/var/lib/systemd/linger/$me" ]; then echo "linger=yes"; else echo "linger=no"; fi
                fi
              fi
            fi
            """
        )
    }

    /// The states in which systemd runs units (as the pre-flight's detection accepts them).
    static let answering: Set<String> = ["running", "degraded", "starting", "initializing"]

    /// The item for the host's lines; nil without a supervisor configured.
    func item(_ out: ScriptOutput, user: String) -> CheckReport.Item? {
        guard settings.mode != .none else { return nil }
        // `auto` falls back to unsupervised processes: a warning. `systemd` refuses the deploy.
        let missing: CheckReport.Status = settings.mode == .systemd ? .fail : .warn
        let fallback =
            settings.mode == .systemd
            ? "a deploy is refused (supervisor: systemd)" : "a deploy runs the app unsupervised (supervisor: auto)"
        guard let initName = out.first(.supervisorInit) else {
            return .init(
                "supervisor", missing, "the host did not say whether systemd runs it",
                fix: "check that the host runs a POSIX sh")
        }
        guard initName == "systemd" else {
            // auto on a host without systemd is what auto is for.
            return settings.mode == .systemd
                ? .init(
                    "supervisor", .fail, "systemd is not this host's init (no /run/systemd/system): \(fallback)",
                    fix: "deploy to hosts that boot with systemd, or set supervisor: auto (or none)")
                : .init("supervisor", .ok, "none: systemd is not this host's init (supervisor: auto)")
        }
        let manager = out.first(.supervisorManager) ?? "no answer"
        let scope = settings.units == .user ? "the user manager of \(user)" : "systemd (system units)"
        guard Self.answering.contains(manager) else {
            let fix =
                settings.units == .user
                ? "systemctl --user needs the user's manager: install libpam-systemd (and dbus-user-session) and keep sshd's UsePAM yes"
                : "give \(user) a sudo rule for systemctl and install without a password (supervisor.sudo), or use units: user"
            return .init("supervisor", missing, "\(scope) does not answer (\(manager)): \(fallback)", fix: fix)
        }
        if settings.units == .user {
            let root = "as root: loginctl enable-linger \(user)"
            if let why = out.first(.lingerFixFailed) {
                return .init(
                    "supervisor", missing,
                    "\(user) does not linger, and loginctl enable-linger failed (\(why)): \(fallback)",
                    fix: "\(root) (logind lets a user linger by itself only where polkit allows it)")
            }
            guard out.first(.linger) == "yes" else {
                return .init(
                    "supervisor", missing,
                    "\(user) does not linger: its units would stop when its last session ends and would not start at boot; \(fallback)",
                    fix: "shipit check --fix runs loginctl enable-linger (where polkit allows it), or \(root)")
            }
            if out.first(.lingerFixed) != nil {
                return .init(
                    "supervisor", .ok, "systemd (user units); fixed: \(user) lingers now (loginctl enable-linger)")
            }
            return .init("supervisor", .ok, "systemd (user units of \(user), who lingers)")
        }
        return .init(
            "supervisor", .ok,
            "systemd (system units\(settings.sudo.isEmpty ? "" : " through '\(settings.sudo.joined(separator: " "))'"))"
        )
    }
}
