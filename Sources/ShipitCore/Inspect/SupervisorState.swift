/// Who keeps a host's processes running, as its inventory found it (symlink strategy,
/// docs/supervision.md): the decision its last pre-flight recorded and, under systemd, each unit
/// that should run now with its state. Behind `status`'s SUPERVISOR column, `verify`'s findings
/// and triage's.
public struct SupervisorState: Codable, Sendable, Equatable {
    public struct Unit: Codable, Sendable, Equatable {
        public enum Kind: String, Codable, Sendable {
            /// The slot serving traffic (the standby is not meant to come back at boot: not listed).
            case slot
            /// The managed proxy.
            case proxy
            /// The app without the traffic switch.
            case app
            /// A role's process (`role` names it).
            case role
            /// The image strategy's boot unit: it starts the containers that serve.
            case containers
        }

        public var kind: Kind
        public var role: String?
        public var name: String
        /// systemd's ActiveState: `active`, `activating` (e.g. waiting to restart), `failed`…
        public var active: String
        /// systemd's UnitFileState: `enabled` (started at boot), `disabled`…; `-`: none (no unit file).
        public var enabled: String
        /// Restarts systemd made on its own since the unit was last started (by a deploy).
        public var restarts: Int
        /// How the last run ended (`success`, `exit-code`, `signal`, `oom-kill`, `start-limit-hit`…).
        public var result: String

        /// "slot", "proxy", "app", "role worker": what the unit runs.
        public var what: String { kind == .role ? "role \(role ?? "?")" : kind.rawValue }
        public var isActive: Bool { active == "active" || active == "reloading" }
        /// `enabled-runtime` lasts until the next boot only: not enabled for a boot.
        public var isEnabled: Bool { enabled == "enabled" }

        /// What is wrong with a unit that should run, enabled: nil when nothing. `short` for a
        /// column ("slot unit not enabled"), else a sentence.
        public func problem(short: Bool) -> String? {
            if !isActive {
                let why = result == "success" || result == "-" ? "" : " (\(result))"
                return short
                    ? "\(what) unit \(active)\(why)"
                    : "\(name) (\(what)) should run but is \(active)\(why)"
                        + (isEnabled ? "" : ", and not enabled: a boot would not start it either")
            }
            if !isEnabled {
                return short
                    ? "\(what) unit not enabled"
                    : "\(name) (\(what)) runs but is \(enabled == "-" ? "not installed" : enabled), not enabled: it would not start at boot"
            }
            return nil
        }
    }

    /// `systemd` or `none`: what the host's last pre-flight found and recorded.
    public var supervisor: String
    /// Under systemd: the units that should run now, each active and enabled.
    public var units: [Unit] = []
    /// systemctl did not answer (its words).
    public var error: String?

    public init(supervisor: String, units: [Unit] = [], error: String? = nil) {
        self.supervisor = supervisor
        self.units = units
        self.error = error
    }

    public var isSystemd: Bool { supervisor == "systemd" }
    public var restarts: Int { units.reduce(0) { $0 + $1.restarts } }

    /// From an inventory's lines; nil when the script reported no supervisor.
    public init?(_ out: ScriptOutput) {
        guard let sv = out.first(.supervisor) else { return nil }
        supervisor = sv == "systemd" ? "systemd" : "none"
        error = out.first(.supervisorError)
        for (key, value) in out.pairs where key.hasPrefix("unit.") {
            let f = value.split(separator: " ", omittingEmptySubsequences: false).map(String.init)
            let what = key.dropFirst("unit.".count)
            let kind: Unit.Kind
            var role: String?
            if what.hasPrefix("role.") {
                kind = .role
                role = String(what.dropFirst("role.".count))
            } else if let k = Unit.Kind(rawValue: String(what)), k != .role {
                kind = k
            } else {
                continue
            }
            // The shape (`HostValue.unitLine`) was checked: five fields, a count in the fourth.
            units.append(
                Unit(
                    kind: kind, role: role, name: f[0], active: f[1], enabled: f[2], restarts: Int(f[3]) ?? 0,
                    result: f[4]))
        }
    }

    /// Sentences for `verify`: a unit that should run and is not active, or is not enabled; a
    /// supervisor that did not answer.
    public var problems: [String] {
        guard isSystemd else { return [] }
        return (error.map { ["the supervisor did not answer: \($0)"] } ?? [])
            + units.compactMap { $0.problem(short: false) }
    }

    /// One cell: `none`, `systemd`, `systemd 2 restarts (slot)`, `systemd: slot unit not enabled`.
    public var summary: String {
        guard isSystemd else { return "none" }
        if error != nil { return "systemd: no answer from systemctl" }
        let wrong = units.compactMap { $0.problem(short: true) }
        let restarted = units.filter { $0.restarts > 0 }
        let count = restarts == 1 ? "1 restart" : "\(restarts) restarts"
        let which =
            restarted.count == 1
            ? restarted[0].what : restarted.map { "\($0.what) \($0.restarts)" }.joined(separator: ", ")
        let head = restarts > 0 ? "systemd \(count) (\(which))" : "systemd"
        return wrong.isEmpty ? head : head + ": " + wrong.joined(separator: ", ")
    }
}
