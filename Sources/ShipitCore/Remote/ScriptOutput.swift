/// Parses the `key=value` lines the scripts print. Each value is checked against its key's shape
/// (`HostValue`) first: one that does not fit is left out of `pairs` and listed in `rejected`.
public struct ScriptOutput: Sendable {
    public let pairs: [(String, String)]
    /// Lines whose value had the wrong shape for its key (never used, only reported).
    public let rejected: [(String, String)]

    public init(_ text: String) {
        var pairs: [(String, String)] = []
        var rejected: [(String, String)] = []
        for line in text.split(separator: "\n") {
            guard let eq = line.firstIndex(of: "=") else { continue }
            let key = String(line[..<eq])
            let value = String(line[line.index(after: eq)...])
            if HostValue.isValid(value, as: HostValue.shape(of: key)) {
                pairs.append((key, value))
            } else {
                rejected.append((key, value))
            }
        }
        self.pairs = pairs
        self.rejected = rejected
    }

    public func first(_ key: String) -> String? { pairs.first { $0.0 == key }?.1 }
    public func all(_ key: String) -> [String] { pairs.filter { $0.0 == key }.map(\.1) }

    /// Why the output cannot be trusted, naming the first bad value (shown escaped and cut short:
    /// it came from the host); nil when every value had its shape.
    /// A listing's odd entry (a stray `releases/old copy` directory in `release=`) is only skipped.
    public var rejection: String? {
        guard let (key, value) = rejected.first(where: { !HostValue.listingKeys.contains($0.0) }) else { return nil }
        let shown = HostValue.printable(String(String.UnicodeScalarView(value.unicodeScalars.prefix(80))))
        return
            "the host returned an invalid \(HostValue.printable(key)) (\(shown)\(value.unicodeScalars.count > 80 ? "…" : ""))"
    }
}
