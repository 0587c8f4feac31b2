import Synchronization

/// Secrets masked in a byte stream that arrives in pieces (a remote terminal's output): a value
/// split between two pieces is still masked whole. The end of a piece that could begin a secret
/// is held back until the next piece says whether it does; `flush` lets it out when no more
/// output comes (a prompt, a key echoed).
public struct SecretStreamMask: Sendable {
    private let secrets: [[UInt8]]
    private let mask: [UInt8]
    private var held: [UInt8] = []

    /// `secrets`: masked longest first (a value inside another is masked whole).
    public init(secrets: [String], mask: String = Redactor.mask) {
        self.secrets = secrets.map { Array($0.utf8) }.filter { !$0.isEmpty }.sorted { $0.count > $1.count }
        self.mask = Array(mask.utf8)
    }

    /// The values `redactor` hides as they are: the config's secrets (registered as they were
    /// resolved, with their encoded forms), its secret-named settings and environment variables.
    /// The patterns it finds in whole lines (a URL's password, `token=…`) need the whole line.
    public init(redactor: Redactor) {
        self.init(secrets: SecretValues.current + redactor.literals)
    }

    public var isHolding: Bool { !held.isEmpty }

    /// What may be shown of `piece` (with what was held before it).
    public mutating func feed(_ piece: some Collection<UInt8>) -> [UInt8] {
        guard !secrets.isEmpty else { return Array(piece) }
        let bytes = held + piece
        held = []
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count)
        var i = 0
        scan: while i < bytes.count {
            for s in secrets where bytes[i] == s[0] {
                let rest = bytes.count - i
                if rest >= s.count {
                    if bytes[i..<(i + s.count)].elementsEqual(s) {
                        out += mask
                        i += s.count
                        continue scan
                    }
                } else if bytes[i...].elementsEqual(s[0..<rest]) {
                    // The stream ends inside what may be this secret: wait for the next piece.
                    held = Array(bytes[i...])
                    return out
                }
            }
            out.append(bytes[i])
            i += 1
        }
        return out
    }

    /// What was held back, shown as it is: no more output came to complete a secret.
    public mutating func flush() -> [UInt8] {
        defer { held = [] }
        return held
    }
}

/// A `SecretStreamMask` shared with the terminal's I/O loop.
public final class SharedSecretStreamMask: Sendable {
    private let state: Mutex<SecretStreamMask>

    public init(_ mask: SecretStreamMask) { state = Mutex(mask) }

    public func feed(_ piece: ArraySlice<UInt8>) -> [UInt8] { state.withLock { $0.feed(piece) } }
    public func flush() -> [UInt8] { state.withLock { $0.flush() } }
    public var isHolding: Bool { state.withLock { $0.isHolding } }
}
