/// Checks for names that end up in paths and remote commands: app names, release ids, shared paths,
/// hook names. Refused before any host is touched, with the field named.
public enum Names {
    private static let identChars = Set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-")
    private static let pathChars = identChars.union(["/"])

    /// App names, stages, release ids: `[A-Za-z0-9._-]`, not starting with `.` or `-`.
    public static func identifier(_ value: String, field: String) throws {
        guard !value.isEmpty, value.count <= 128 else {
            throw ShipitError.input("\(field): must be 1 to 128 characters")
        }
        if let bad = value.first(where: { !identChars.contains($0) }) {
            throw ShipitError.input(
                "\(field): \(HostName.debugQuoted(value)) contains \(HostName.debugQuoted(String(bad))); use letters, digits, '.', '_' and '-'"
            )
        }
        guard !value.hasPrefix("."), !value.hasPrefix("-") else {
            throw ShipitError.input("\(field): \(HostName.debugQuoted(value)) must not start with '.' or '-'")
        }
    }

    /// A path relative to a release or the shared dir: no `..`, not absolute, safe characters only.
    public static func relativePath(_ value: String, field: String) throws {
        guard !value.isEmpty, !value.hasPrefix("/") else {
            throw ShipitError.input("\(field): \(HostName.debugQuoted(value)) must be a relative path")
        }
        try safePathChars(value, field: field)
        let parts = value.split(separator: "/", omittingEmptySubsequences: false)
        guard !parts.contains(where: { $0 == ".." || $0 == "." || $0.isEmpty }) else {
            throw ShipitError.input(
                "\(field): \(HostName.debugQuoted(value)) must not contain '..', '.' or empty segments")
        }
    }

    /// An absolute path on the host (`deploy_to`): normalised, no `..`.
    public static func absolutePath(_ value: String, field: String) throws {
        guard value.hasPrefix("/") else {
            throw ShipitError.input("\(field): \(HostName.debugQuoted(value)) must be an absolute path")
        }
        guard value != "/" else { throw ShipitError.input("\(field): must not be /") }
        try safePathChars(value, field: field)
        let parts = value.split(separator: "/", omittingEmptySubsequences: true)
        guard !parts.contains(where: { $0 == ".." || $0 == "." }), !value.contains("//"), !value.hasSuffix("/") else {
            throw ShipitError.input(
                "\(field): \(HostName.debugQuoted(value)) must be a normalised path without '..' or '.'")
        }
    }

    private static func safePathChars(_ value: String, field: String) throws {
        if let bad = value.first(where: { !pathChars.contains($0) }) {
            throw ShipitError.input(
                "\(field): \(HostName.debugQuoted(value)) contains \(HostName.debugQuoted(String(bad))), which is not allowed in a path"
            )
        }
    }
}
