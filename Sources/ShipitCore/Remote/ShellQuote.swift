/// POSIX shell quoting. Every remote argument goes through this: a value is either made only of
/// characters no shell treats specially, or wrapped in single quotes (with `'` written as `'\''`).
public enum ShellQuote {
    static let safe = Set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_@%+=:,./-")

    public static func quote(_ value: String) -> String {
        if !value.isEmpty && value.allSatisfy({ safe.contains($0) }) { return value }
        return "'" + value.replacing("'", with: "'\\''") + "'"
    }

    public static func join(_ argv: [String]) -> String {
        argv.map(quote).joined(separator: " ")
    }
}
