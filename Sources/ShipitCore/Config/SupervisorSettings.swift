/// `supervisor:` in shipit.yml (docs/supervision.md): who keeps the app, its slots, its role
/// processes and the managed proxy running after the deploy — through a crash and a reboot.
public struct SupervisorSettings: Sendable, Equatable {
    public enum Mode: String, Sendable {
        /// systemd where the host runs it (and the deploy user's manager and lingering for user
        /// units), else none.
        case auto
        /// Refused at pre-flight on a host without it.
        case systemd
        /// Plain background processes of the deploy user: nothing restarts them.
        case none
    }

    public enum Units: String, Sendable {
        /// `systemctl --user` units of the deploy user, who lingers so they run without a login.
        case user
        /// System units (`/etc/systemd/system`), run as the deploy user, installed and controlled
        /// through `sudo` (a command prefix), or directly when deploying as root.
        case system
    }

    public var mode: Mode = .auto
    public var units: Units = .user
    /// System units: the prefix `systemctl` and `install` run with, as words (e.g. `sudo -n`).
    public var sudo: [String] = []

    public init() {}
}

extension SupervisorSettings {
    static let keys: Set<String> = ["mode", "units", "sudo"]

    /// `supervisor: auto|systemd|none`, or `{mode: systemd, units: system, sudo: "sudo -n"}`.
    static func parse(_ r: YAMLReader) throws -> SupervisorSettings {
        var s = SupervisorSettings()
        if case .scalar = r.node {
            s.mode = try mode(r)
            return s
        }
        let m = try r.mapping(allowed: keys)
        if let v = m["mode"] { s.mode = try mode(v) }
        if let v = m["units"] {
            guard let u = Units(rawValue: try v.string()) else { throw v.fail("expected 'user' or 'system'") }
            s.units = u
        }
        if let v = m["sudo"] {
            let words = try v.string().split(separator: " ").map(String.init)
            // Words only: the prefix is run as argv words, each quoted, never through a shell.
            guard
                !words.isEmpty,
                words.allSatisfy({
                    $0.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || "._-/=".contains($0)) }
                })
            else {
                throw v.fail("expected a command prefix such as 'sudo -n' (letters, digits, . _ - / = and spaces)")
            }
            guard s.units == .system else { throw v.fail("'sudo' is for system units (units: system)") }
            s.sudo = words
        }
        if s.mode == .none, m["units"] != nil || m["sudo"] != nil {
            throw r.fail("'units' and 'sudo' need a supervisor (mode: systemd or auto)")
        }
        return s
    }

    private static func mode(_ r: YAMLReader) throws -> Mode {
        guard let mode = Mode(rawValue: try r.string()) else { throw r.fail("expected 'auto', 'systemd' or 'none'") }
        return mode
    }
}
