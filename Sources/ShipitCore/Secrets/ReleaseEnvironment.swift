import Crypto
import FoundationEssentials

/// The environment of one release, resolved: `env:` values and `secrets:` values by name. It goes
/// to each host as the release's env file (0600, outside the release directory) and, as keyed
/// fingerprints, into the ledger, so `changes` can say which value changed without holding any.
public struct ReleaseEnvironment: Sendable, Equatable {
    public struct Entry: Sendable, Equatable {
        public var name: String
        public var value: String
        public var secret: Bool

        public init(name: String, value: String, secret: Bool) {
            self.name = name
            self.value = value
            self.secret = secret
        }
    }

    /// Sorted by name.
    public let entries: [Entry]

    public init(_ entries: [Entry]) { self.entries = entries.sorted { $0.name < $1.name } }

    public var secretValues: [String] { entries.filter(\.secret).map(\.value) }

    /// Read back from `shellFile` (this type's own format: `NAME=value` lines, the value quoted by
    /// `ShellQuote`: `'…'` pieces and `\'`); each name is a secret unless it is in `plain`. nil for text of any other shape.
    public init?(shellFile text: String, plain: Set<String>) {
        var entries: [Entry] = []
        var chars = Substring(text)
        while !chars.isEmpty {
            guard let eq = chars.firstIndex(of: "=") else { return nil }
            let name = String(chars[..<eq])
            guard RemoteCommand.isValidEnvName(name) else { return nil }
            chars = chars[chars.index(after: eq)...]
            var value = ""
            // Quoted pieces, each '…' or \' , until the line's end.
            while let c = chars.first, c != "\n" {
                if c == "'" {
                    chars = chars.dropFirst()
                    guard let close = chars.firstIndex(of: "'") else { return nil }
                    value += chars[..<close]
                    chars = chars[chars.index(after: close)...]
                } else if chars.hasPrefix("\\'") {
                    value += "'"
                    chars = chars.dropFirst(2)
                } else if ShellQuote.safe.contains(c) {
                    // ShellQuote leaves a value of safe characters unquoted.
                    value.append(c)
                    chars = chars.dropFirst()
                } else {
                    return nil
                }
            }
            chars = chars.dropFirst()
            entries.append(Entry(name: name, value: value, secret: !plain.contains(name)))
        }
        self.init(entries)
    }

    /// For a POSIX shell (`set -a; . file`): one `NAME='value'` per variable, each value quoted.
    public var shellFile: String {
        entries.map { "\($0.name)=\(ShellQuote.quote($0.value))\n" }.joined()
    }

    /// For a container engine's `--env-file`: `NAME=value` lines, taken literally. A value with a
    /// newline cannot be written there: refused, naming the variable.
    public func engineFile() throws(ShipitError) -> String {
        if let e = entries.first(where: { $0.value.contains("\n") || $0.value.contains("\r") }) {
            throw ShipitError.input(
                "\(e.secret ? "secrets" : "env").\(e.name): a value with a line break cannot go into a container's env file"
            )
        }
        // Engines read env files line by line with a 64 KiB line buffer.
        if let e = entries.first(where: { $0.name.utf8.count + $0.value.utf8.count + 2 > 65536 }) {
            throw ShipitError.input(
                "\(e.secret ? "secrets" : "env").\(e.name): a value over 64 KiB cannot go into a container's env file")
        }
        return entries.map { "\($0.name)=\($0.value)\n" }.joined()
    }

    /// What the ledger records for each secret: an HMAC-SHA256 of its name and value under the
    /// ledger's own random key (`fingerprintKey`), 16 hex digits. A plain hash of a secret could be
    /// checked against guesses by anyone who reads the ledger; this needs the key as well.
    public func fingerprints(key: Data) -> [String: String] {
        var out: [String: String] = [:]
        for e in entries where e.secret { out[e.name] = Self.fingerprint(key: key, e.name + "\0" + e.value) }
        return out
    }

    /// The whole environment's fingerprint (names, values, which are secret), 8 hex digits: what
    /// tells two releases of the same image apart when only their config differs.
    public func identity(key: Data) -> String {
        String(
            Self.fingerprint(
                key: key, entries.map { "\($0.secret ? "s" : "e")\0\($0.name)\0\($0.value)\0" }.joined()
            ).dropFirst("hmac-sha256:".count).prefix(8))
    }

    static func fingerprint(key: Data, _ text: String) -> String {
        let mac = HMAC<SHA256>.authenticationCode(for: Data(text.utf8), using: SymmetricKey(data: key))
        return "hmac-sha256:" + Digest.hex(Data(mac).prefix(8))
    }

    /// The ledger's settings keys for this environment: secrets by fingerprint (`env.*` is in the
    /// config's own settings already).
    public static func settingsKey(secret name: String) -> String { "secrets.\(name).value" }
}
