import FoundationEssentials
import ShipitSupport

/// Text made safe for HTML: every value in the report comes from the ledger or from hosts (host
/// names, error messages, hook output), so all of it goes through here, in element text and in
/// quoted attributes alike.
public enum HTMLText {
    public static func escape(_ text: String) -> String {
        var out = ""
        out.reserveCapacity(text.utf8.count)
        for c in text.unicodeScalars {
            switch c {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            // Control characters (but tab and newline) are not valid in HTML text.
            case _ where c.value < 0x20 && c != "\n" && c != "\t", "\u{7F}": out += "\u{FFFD}"
            default: out.unicodeScalars.append(c)
            }
        }
        return out
    }

    /// A number for an SVG attribute: fixed point, no locale, no exponent.
    static func number(_ v: Double) -> String {
        guard v.isFinite else { return "0" }
        return String(cFormat: "%.1f", v)
    }
}
