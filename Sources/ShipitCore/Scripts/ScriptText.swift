/// A host script's body as a tree of text and blocks. A block's lines are indented when the
/// script is rendered, so fragments are composed as values and never re-indented as text. Text
/// must not rely on its leading whitespace (a newline inside quotes is written `$NL`).
public struct ScriptText: Sendable, Equatable, ExpressibleByStringInterpolation {
    indirect enum Piece: Sendable, Equatable {
        case text(String)
        case block(open: String, body: [Piece], close: String)
    }
    var pieces: [Piece]

    public init(_ text: String) { pieces = text.isEmpty ? [] : [.text(text)] }
    public init(stringLiteral text: String) { self.init(text) }
    public init(stringInterpolation: Interpolation) { self.init(stringInterpolation.text) }

    /// Values go into the text as they print; a fragment cannot (it is composed with `+`, so its
    /// lines are indented where it goes).
    public struct Interpolation: StringInterpolationProtocol {
        var text = ""
        public init(literalCapacity: Int, interpolationCount: Int) {}
        public mutating func appendLiteral(_ literal: String) { text += literal }
        public mutating func appendInterpolation<T: CustomStringConvertible>(_ value: T) { text += value.description }
        @available(*, unavailable, message: "compose script fragments with +")
        public mutating func appendInterpolation(_ value: ScriptText) {}
    }
    init(pieces: [Piece]) { self.pieces = pieces }

    public static let empty = ScriptText(pieces: [])
    public var isEmpty: Bool { pieces.isEmpty }

    /// `open`, the body one level in, then `close` (`if …; then` … `fi`).
    public static func block(_ open: String, _ body: ScriptText, _ close: String) -> ScriptText {
        ScriptText(pieces: [.block(open: open, body: body.pieces, close: close)])
    }

    /// `if CONDITION; then` the body `fi` (nothing when the body is empty).
    public static func when(_ condition: String, _ body: ScriptText) -> ScriptText {
        body.isEmpty ? .empty : block("if \(condition); then", body, "fi")
    }

    /// `if CONDITION; then` one body `else` the other `fi`.
    public static func ifElse(_ condition: String, _ then: ScriptText, else other: ScriptText) -> ScriptText {
        block("if \(condition); then", then, "else") + block("", other, "fi")
    }

    public static func + (a: ScriptText, b: ScriptText) -> ScriptText { ScriptText(pieces: a.pieces + b.pieces) }

    /// The pieces one after the other.
    public static func lines(_ parts: [ScriptText]) -> ScriptText { ScriptText(pieces: parts.flatMap(\.pieces)) }

    /// The text, each block's lines indented two spaces more than its opening line.
    public func rendered(indent: String = "") -> String {
        var out: [String] = []
        func emit(_ pieces: [Piece], _ indent: String) {
            for p in pieces {
                switch p {
                case .text(let t):
                    for line in t.split(separator: "\n", omittingEmptySubsequences: false) {
                        out.append(line.isEmpty ? "" : indent + line)
                    }
                case .block(let open, let body, let close):
                    if !open.isEmpty { out.append(indent + open) }
                    emit(body, indent + "  ")
                    out.append(indent + close)
                }
            }
        }
        emit(pieces, indent)
        return out.joined(separator: "\n")
    }
}
