/// A composed YAML document: what the config reader walks. Each node keeps the line it starts on
/// (for errors that name file:line) and whether it carried an anchor (refused in shipit config).
public indirect enum YAMLNode: Sendable {
    case scalar(Scalar)
    case mapping(Mapping)
    case sequence(Sequence)
    /// `*name`: refused wherever it appears.
    case alias(line: Int)

    public struct Scalar: Sendable {
        public var string: String
        public var line: Int
        public var anchor: String?
    }

    public struct Mapping: Sendable {
        public var pairs: [(key: YAMLNode, value: YAMLNode)]
        public var line: Int
        public var anchor: String?
    }

    public struct Sequence: Sendable {
        public var items: [YAMLNode]
        public var line: Int
        public var anchor: String?
    }

    /// 1-based line the node starts on.
    public var line: Int {
        switch self {
        case .scalar(let s): return s.line
        case .mapping(let m): return m.line
        case .sequence(let s): return s.line
        case .alias(let line): return line
        }
    }

    public var anchor: String? {
        switch self {
        case .scalar(let s): return s.anchor
        case .mapping(let m): return m.anchor
        case .sequence(let s): return s.anchor
        case .alias: return nil
        }
    }

    /// The text of a scalar; nil for anything else.
    public var string: String? {
        if case .scalar(let s) = self { return s.string }
        return nil
    }
}
