import CYAML

/// Builds a `YAMLNode` tree from libyaml's parser events (the C parser PyYAML and Yams use; the
/// system's libyaml). Only what a config needs: one document, no tag resolution (every scalar is
/// text until the reader asks for a number or a boolean).
public enum YAMLComposer {
    public struct Failure: Error, CustomStringConvertible {
        public let message: String
        public let line: Int
        public var description: String { "line \(line): \(message)" }
    }

    /// The document's root, or nil for an empty stream.
    public static func compose(_ text: String) throws -> YAMLNode? {
        var parser = yaml_parser_t()
        guard yaml_parser_initialize(&parser) == 1 else {
            throw Failure(message: "cannot start the YAML parser", line: 0)
        }
        defer { yaml_parser_delete(&parser) }
        let bytes = Array(text.utf8)
        return try bytes.withUnsafeBufferPointer { buffer in
            yaml_parser_set_input_string(&parser, buffer.baseAddress, buffer.count)
            var events = EventReader(parser: &parser)
            var root: YAMLNode?
            var documents = 0
            while true {
                let event = try events.next()
                switch event.kind {
                case .streamEnd: return root
                case .documentStart:
                    documents += 1
                    guard documents == 1 else {
                        throw Failure(message: "more than one YAML document ('---'): give one", line: event.line)
                    }
                    root = try node(from: try events.next(), &events, depth: 0)
                    let end = try events.next()
                    guard case .documentEnd = end.kind else {
                        throw Failure(message: "expected the end of the document", line: end.line)
                    }
                default: continue
                }
            }
        }
    }

    /// Deeper than any config goes; bounds the recursion on hostile input (`[[[[…`).
    static let maxDepth = 64

    private static func node(from event: Event, _ events: inout EventReader, depth: Int) throws -> YAMLNode {
        guard depth < maxDepth else {
            throw Failure(message: "nested more than \(maxDepth) levels deep", line: event.line)
        }
        switch event.kind {
        case .scalar(let value):
            return .scalar(.init(string: value, line: event.line, anchor: event.anchor))
        case .alias:
            return .alias(line: event.line)
        case .sequenceStart:
            var items: [YAMLNode] = []
            while true {
                let next = try events.next()
                if case .sequenceEnd = next.kind { break }
                items.append(try node(from: next, &events, depth: depth + 1))
            }
            return .sequence(.init(items: items, line: event.line, anchor: event.anchor))
        case .mappingStart:
            var pairs: [(key: YAMLNode, value: YAMLNode)] = []
            while true {
                let next = try events.next()
                if case .mappingEnd = next.kind { break }
                let key = try node(from: next, &events, depth: depth + 1)
                let value = try node(from: try events.next(), &events, depth: depth + 1)
                pairs.append((key, value))
            }
            return .mapping(.init(pairs: pairs, line: event.line, anchor: event.anchor))
        default:
            throw Failure(message: "unexpected YAML structure", line: event.line)
        }
    }

    struct Event {
        enum Kind {
            case streamStart, streamEnd, documentStart, documentEnd
            case scalar(String)
            case alias, sequenceStart, sequenceEnd, mappingStart, mappingEnd
        }
        let kind: Kind
        let line: Int
        let anchor: String?
    }

    /// Pulls events one at a time, copying what is kept out of libyaml's buffers.
    struct EventReader {
        let parser: UnsafeMutablePointer<yaml_parser_t>

        mutating func next() throws -> Event {
            var e = yaml_event_t()
            guard yaml_parser_parse(parser, &e) == 1 else {
                let p = parser.pointee
                let what = p.problem.map { String(cString: $0) } ?? "invalid YAML"
                let context = p.context.map { String(cString: $0) + ": " } ?? ""
                throw Failure(message: context + what, line: Int(p.problem_mark.line) + 1)
            }
            defer { yaml_event_delete(&e) }
            let line = Int(e.start_mark.line) + 1
            func text(_ p: UnsafeMutablePointer<yaml_char_t>?) -> String? { p.map { String(cString: $0) } }
            switch e.type {
            case YAML_STREAM_START_EVENT: return Event(kind: .streamStart, line: line, anchor: nil)
            case YAML_STREAM_END_EVENT: return Event(kind: .streamEnd, line: line, anchor: nil)
            case YAML_DOCUMENT_START_EVENT: return Event(kind: .documentStart, line: line, anchor: nil)
            case YAML_DOCUMENT_END_EVENT: return Event(kind: .documentEnd, line: line, anchor: nil)
            case YAML_ALIAS_EVENT: return Event(kind: .alias, line: line, anchor: text(e.data.alias.anchor))
            case YAML_SCALAR_EVENT:
                let s = e.data.scalar
                let value = String(decoding: UnsafeBufferPointer(start: s.value, count: s.length), as: UTF8.self)
                return Event(kind: .scalar(value), line: line, anchor: text(s.anchor))
            case YAML_SEQUENCE_START_EVENT:
                return Event(kind: .sequenceStart, line: line, anchor: text(e.data.sequence_start.anchor))
            case YAML_SEQUENCE_END_EVENT: return Event(kind: .sequenceEnd, line: line, anchor: nil)
            case YAML_MAPPING_START_EVENT:
                return Event(kind: .mappingStart, line: line, anchor: text(e.data.mapping_start.anchor))
            case YAML_MAPPING_END_EVENT: return Event(kind: .mappingEnd, line: line, anchor: nil)
            default: throw Failure(message: "unexpected YAML event", line: line)
            }
        }
    }
}
