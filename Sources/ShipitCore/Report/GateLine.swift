import FoundationEssentials

/// A gate sample as the ledger keeps it (the bake's `step N/M · <gate>[ on <host>]: <detail>`),
/// read back into its parts. Gate names are identifiers, so the name ends at the first space or
/// colon.
struct GateLine: Equatable {
    var gate: String
    var host: String?
    var detail: String
}

extension GateLine {
    init?(_ message: String) {
        var rest = Substring(message)
        if let dot = rest.firstRange(of: " · ") { rest = rest[dot.upperBound...] }
        guard let end = rest.firstIndex(where: { $0 == " " || $0 == ":" }), end > rest.startIndex else { return nil }
        gate = String(rest[..<end])
        rest = rest[end...]
        if rest.hasPrefix(" on "), let colon = rest.firstRange(of: ": ") {
            host = String(rest[rest.index(rest.startIndex, offsetBy: 4)..<colon.lowerBound])
            detail = String(rest[colon.upperBound...])
        } else {
            host = nil
            detail = rest.hasPrefix(": ") ? String(rest.dropFirst(2)) : String(rest.drop { $0 == ":" || $0 == " " })
        }
    }
}
