import FoundationEssentials
import Glibc

/// Path strings as the shell sees them (what `NSString`'s path methods did, without linking
/// Foundation).
public enum FilePath {
    /// Everything before the last `/` ("" for a bare name, "/" for a file in the root).
    public static func directory(of path: String) -> String {
        var p = Substring(path)
        while p.count > 1, p.hasSuffix("/") { p = p.dropLast() }
        guard let slash = p.lastIndex(of: "/") else { return "" }
        if slash == p.startIndex { return "/" }
        var dir = p[..<slash]
        while dir.count > 1, dir.hasSuffix("/") { dir = dir.dropLast() }
        return String(dir)
    }

    /// The last component ("b" for "/a/b/").
    public static func lastComponent(of path: String) -> String {
        var p = Substring(path)
        while p.count > 1, p.hasSuffix("/") { p = p.dropLast() }
        guard let slash = p.lastIndex(of: "/") else { return String(p) }
        return p == "/" ? "/" : String(p[p.index(after: slash)...])
    }

    /// `dir/component`, with one slash between ("component" alone when `dir` is empty).
    public static func join(_ dir: String, _ component: String) -> String {
        if dir.isEmpty { return component }
        return dir.hasSuffix("/") ? dir + component : dir + "/" + component
    }

    /// The size in bytes of a file (nil: it cannot be read).
    public static func size(of path: String) -> Int64? {
        var st = stat()
        return stat(path, &st) == 0 ? Int64(st.st_size) : nil
    }

    /// Whether `path` is a directory (following symlinks).
    public static func isDirectory(_ path: String) -> Bool {
        var st = stat()
        return stat(path, &st) == 0 && (st.st_mode & S_IFMT) == S_IFDIR
    }

    /// `$TMPDIR` (without a trailing slash), else /tmp.
    public static var temporaryDirectory: String {
        var t = ProcessInfo.processInfo.environment["TMPDIR"] ?? ""
        while t.count > 1, t.hasSuffix("/") { t.removeLast() }
        return t.isEmpty ? "/tmp" : t
    }

    /// Appends `text` to the file (created with `mode` when missing), in one write.
    public static func append(_ text: String, to path: String, mode: mode_t = 0o600) throws {
        let fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, mode)
        guard fd >= 0 else { throw POSIXFailure(operation: "open \(path)") }
        defer { close(fd) }
        try FileDescriptorIO.write(fd, text)
    }
}

/// A failed system call, with the C library's message for `errno`.
public struct POSIXFailure: Error, CustomStringConvertible {
    public let operation: String
    public let code: Int32
    public init(operation: String, code: Int32 = errno) {
        self.operation = operation
        self.code = code
    }
    public var description: String { "\(operation): \(String(cString: strerror(code)))" }
}
