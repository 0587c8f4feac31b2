/// The shape every fact a host script reports must have before shipit uses it. A host is not
/// trusted: its `current=` names a directory that a later script removes or starts, its `digest=`
/// names the release, reaches a psql literal and a container name. A value that does not have its
/// key's shape is dropped by `ScriptOutput` (and kept in `rejected`), so no caller ever sees it.
public enum HostValue {
    public enum Shape: Equatable, Sendable {
        /// A release id: `20261206T101500123Z-1a2b3c4d`, `v1-0123456789ab` (image tag + digest).
        /// Empty where the key allows "none" (`current=`, `previous=`).
        case releaseID(emptyAllowed: Bool)
        /// `sha256:` and 64 lowercase hex digits.
        case digest
        /// A whole number, e.g. a count, a pid, an exit status, KB (an optional leading `-`); empty
        /// where there is none yet (`slot.active=` before the first switch).
        case integer
        /// A number that may have a fraction, e.g. a load average (`0.15`) (an optional leading
        /// `-`, at most 32 characters); empty where there is none.
        case decimal
        /// `count` whole numbers, each one space apart, none empty: a slot and a time
        /// (`standby.until=8082 1765012345`).
        case integers(count: Int)
        /// A lock holder: an attempt id (empty: a lock file without one).
        case holder
        /// One plain word, shown only: a role's pid or container name (`role.NAME.ok=`).
        case word
        /// A slot's line: `RELEASE STATE`, each a plain word (or empty).
        case slotLine
        /// A supervised unit's line: `UNIT ACTIVE ENABLED RESTARTS RESULT` (`-` for a state
        /// systemd left empty): a unit name, three plain words, a whole number.
        case unitLine
        /// Shown or compared, never a path or part of a script: any text.
        case text
    }

    /// Keys that list what is on the host: an entry without its shape is not one of shipit's
    /// (left out of the list), not a reason to stop.
    public static let listingKeys: Set<String> = ["release", "failed", "pruned"]

    /// The shape of `key`'s value; `text` for keys shipit only shows.
    public static func shape(of key: String) -> Shape {
        if let known = ScriptKey(rawValue: key) { return known.shape }
        let parts = key.split(separator: ".", omittingEmptySubsequences: false)
        if parts.count == 2, parts[0] == "slot", parts[1].allSatisfy(\.isASCIIDigit), !parts[1].isEmpty {
            return .slotLine
        }
        // `role.NAME.ok=PID` (a container's name for the image strategy), `check.NAME=STATUS`.
        if parts.count == 3, parts[0] == "role", parts[2] == "ok" { return .word }
        if parts.count == 2, parts[0] == "check" { return .integer }
        // `unit.slot=`, `unit.proxy=`, `unit.app=`, `unit.role.NAME=` (a role's name may hold a dot).
        if parts[0] == "unit", parts.count == 2 || (parts.count > 2 && parts[1] == "role") { return .unitLine }
        return .text
    }

    public static func isValid(_ value: String, as shape: Shape) -> Bool {
        switch shape {
        case .releaseID(let emptyAllowed): return value.isEmpty ? emptyAllowed : isReleaseID(value)
        case .digest: return isDigest(value)
        case .integer: return value.isEmpty || isInteger(value)
        case .decimal: return value.isEmpty || isDecimal(value)
        case .integers(let count):
            let f = value.split(separator: " ", omittingEmptySubsequences: false)
            return f.count == count && f.allSatisfy { isInteger(String($0)) }
        case .holder: return value.isEmpty || isPlainWord(value, max: 128)
        case .word: return isPlainWord(value, max: 255)
        case .slotLine:
            return value.split(separator: " ", omittingEmptySubsequences: false).allSatisfy {
                $0.isEmpty || isPlainWord(String($0), max: 200)
            }
        case .unitLine:
            let f = value.split(separator: " ", omittingEmptySubsequences: false).map(String.init)
            func state(_ s: String) -> Bool { s == "-" || isPlainWord(s, max: 64) }
            return f.count == 5 && isUnitName(f[0]) && state(f[1]) && state(f[2]) && isInteger(f[3])
                && !f[3].hasPrefix("-") && state(f[4])
        case .text: return true
        }
    }

    /// A unit name as shipit names its units (`shipit-APP-slot@PORT.service`): a plain word that
    /// may hold one `@` (a template's instance), never a `/` or a space.
    static func isUnitName(_ s: String) -> Bool {
        let parts = s.split(separator: "@", omittingEmptySubsequences: false)
        return parts.count <= 2 && s.utf8.count <= 256 && parts.allSatisfy { isPlainWord(String($0), max: 256) }
    }

    /// Text from a host made safe to show on the operator's terminal and keep in the ledger: control
    /// characters (escape sequences could retitle, clear or rewrite the terminal) as `\u{1b}`,
    /// tabs as spaces; everything else, any language, as it is.
    public static func printable(_ s: String) -> String {
        guard s.unicodeScalars.contains(where: isControl) else { return s }
        var out = ""
        for u in s.unicodeScalars {
            if u == "\t" {
                out += " "
            } else if isControl(u) {
                out += "\\u{\(String(u.value, radix: 16))}"
            } else {
                out.unicodeScalars.append(u)
            }
        }
        return out
    }

    static func isControl(_ u: Unicode.Scalar) -> Bool { u.value < 0x20 || (0x7F...0x9F).contains(u.value) }

    /// Letters, digits, `_`, `.`, `-`, starting with a letter, digit or `_`: one path component that
    /// is never `.`/`..`, never an option, never a glob, never needs quoting.
    public static func isReleaseID(_ s: String) -> Bool { isPlainWord(s, max: 200) }

    public static func isDigest(_ s: String) -> Bool {
        s.hasPrefix("sha256:") && isSHA256Hex(s.dropFirst(7))
    }

    /// 64 lowercase hex digits: a sha256 as `sha256sum` prints it.
    static func isSHA256Hex(_ s: Substring) -> Bool {
        s.utf8.count == 64 && s.utf8.allSatisfy { (0x30...0x39).contains($0) || (0x61...0x66).contains($0) }
    }

    static func isInteger(_ s: String) -> Bool {
        let digits = s.hasPrefix("-") ? s.utf8.dropFirst() : s.utf8[...]
        return !digits.isEmpty && digits.count <= 18 && digits.allSatisfy { (0x30...0x39).contains($0) }
    }

    static func isDecimal(_ s: String) -> Bool {
        let unsigned = s.hasPrefix("-") ? s.utf8.dropFirst() : s.utf8[...]
        let parts = unsigned.split(separator: 0x2E, maxSplits: 1, omittingEmptySubsequences: false)
        return !unsigned.isEmpty && s.utf8.count <= 32
            && parts.allSatisfy { !$0.isEmpty && $0.allSatisfy { (0x30...0x39).contains($0) } }
    }

    static func isPlainWord(_ s: String, max: Int) -> Bool {
        guard let first = s.utf8.first, s.utf8.count <= max else { return false }
        func ok(_ c: UInt8) -> Bool {
            (0x30...0x39).contains(c) || (0x41...0x5A).contains(c) || (0x61...0x7A).contains(c) || c == 0x5F
                || c == 0x2E || c == 0x2D
        }
        return first != 0x2E && first != 0x2D && s.utf8.allSatisfy(ok)
    }
}
