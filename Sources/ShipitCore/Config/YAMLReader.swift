import FoundationEssentials
import ShipitSupport

/// Walks a composed YAML tree with the path of every value, so each error names file:line and the
/// field (`health.port`). Unknown keys, wrong types and anchors/aliases are refused.
struct YAMLReader {
    let file: String
    let node: YAMLNode
    let path: String

    static let maxBytes = 1 << 20

    static func load(file: String) throws -> YAMLReader {
        guard let size = FilePath.size(of: file) else {
            throw ShipitError.input("\(file): cannot read the config file")
        }
        if size > maxBytes {
            throw ShipitError.input("\(file): config is \(size) bytes; more than \(maxBytes) is refused")
        }
        guard let text = try? String(contentsOfFile: file, encoding: .utf8) else {
            throw ShipitError.input("\(file): not UTF-8 text")
        }
        return try parse(text, file: file)
    }

    static func parse(_ text: String, file: String) throws -> YAMLReader {
        // Text that did not come from a file (`DeployConfig.parse(yaml:)`) has the same limit.
        if text.utf8.count > maxBytes {
            throw ShipitError.input("\(file): config is \(text.utf8.count) bytes; more than \(maxBytes) is refused")
        }
        let root: YAMLNode?
        do { root = try YAMLComposer.compose(text) } catch let e as YAMLComposer.Failure {
            throw ShipitError.input("\(file):\(e.line): invalid YAML: \(e.message)")
        }
        guard let root else { throw ShipitError.input("\(file): the config is empty") }
        return YAMLReader(file: file, node: root, path: "")
    }

    var location: String {
        "\(file):\(node.line)"
    }

    func fail(_ message: String) -> ShipitError {
        ShipitError.input("\(location): \(path.isEmpty ? "" : path + ": ")\(message)")
    }

    /// Runs a validator that names the field itself (`Names`, `HostName`) with this value's path,
    /// and adds the file:line in front of its message.
    func check(_ validate: (_ field: String) throws -> Void) throws {
        do { try validate(path) } catch let e as ShipitError { throw ShipitError.input("\(location): \(e.message)") }
    }

    private func checkNoAnchor() throws {
        var anchored = node.anchor != nil
        if case .alias = node { anchored = true }
        // Anchors and aliases are how YAML bombs multiply; a deploy config never needs them.
        if anchored { throw fail("YAML anchors and aliases are not allowed in shipit config") }
    }

    func child(_ key: String, _ value: YAMLNode) -> YAMLReader {
        YAMLReader(file: file, node: value, path: path.isEmpty ? key : "\(path).\(key)")
    }

    /// The mapping's entries, refusing keys that are not in `allowed` (nil: any key, e.g. `env`).
    func mapping(allowed: Set<String>?) throws -> [String: YAMLReader] {
        try checkNoAnchor()
        guard case .mapping(let map) = node else { throw fail("expected a mapping (key: value)") }
        var out: [String: YAMLReader] = [:]
        for (k, v) in map.pairs {
            guard let key = k.string else { throw fail("keys must be plain strings") }
            let c = child(key, v)
            if let allowed, !allowed.contains(key) {
                let hint = allowed.sorted().joined(separator: ", ")
                throw c.fail("unknown key (allowed here: \(hint))")
            }
            guard out[key] == nil else { throw c.fail("key given twice") }
            try c.checkNoAnchor()
            out[key] = c
        }
        return out
    }

    var isMapping: Bool {
        if case .mapping = node { return true }
        return false
    }

    func sequence() throws -> [YAMLReader] {
        try checkNoAnchor()
        guard case .sequence(let seq) = node else { throw fail("expected a list") }
        return seq.items.enumerated().map { child("[\($0.offset)]", $0.element) }.map {
            YAMLReader(file: file, node: $0.node, path: $0.path.replacing(".[", with: "["))
        }
    }

    func string() throws -> String {
        try checkNoAnchor()
        guard case .scalar(let s) = node else { throw fail("expected a string") }
        return s.string
    }

    func int(_ range: ClosedRange<Int>) throws -> Int {
        guard let v = Int(try string()) else { throw fail("expected a whole number") }
        guard range.contains(v) else { throw fail("\(v) is out of range \(range.lowerBound)...\(range.upperBound)") }
        return v
    }

    func double(_ range: ClosedRange<Double>) throws -> Double {
        guard let v = Double(try string()), v.isFinite else { throw fail("expected a number") }
        guard range.contains(v) else { throw fail("\(v) is out of range \(range.lowerBound)...\(range.upperBound)") }
        return v
    }

    func bool() throws -> Bool {
        switch try string().lowercased() {
        case "true", "yes", "on": return true
        case "false", "no", "off": return false
        default: throw fail("expected true or false")
        }
    }

    func stringList() throws -> [String] {
        if case .scalar = node { return [try string()] }
        return try sequence().map { try $0.string() }
    }
}
