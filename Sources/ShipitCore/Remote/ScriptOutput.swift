/// Parses the `key=value` lines the scripts print.
public struct ScriptOutput: Sendable {
    public let pairs: [(String, String)]

    public init(_ text: String) {
        pairs = text.split(separator: "\n").compactMap { line in
            guard let eq = line.firstIndex(of: "=") else { return nil }
            return (String(line[..<eq]), String(line[line.index(after: eq)...]))
        }
    }

    public func first(_ key: String) -> String? { pairs.first { $0.0 == key }?.1 }
    public func all(_ key: String) -> [String] { pairs.filter { $0.0 == key }.map(\.1) }
}
