import Glibc

/// A NULL-terminated array of C strings (nil entries stay NULL), alive for the call: argv and envp
/// for posix_spawn, libpq's keywords, values and query parameters.
enum CStringArray {
    static func with<T>(_ strings: [String?], _ body: (UnsafePointer<UnsafeMutablePointer<CChar>?>) -> T) -> T {
        let copies = strings.map { $0.flatMap { strdup($0) } } + [nil]
        defer { for c in copies { free(c) } }
        return copies.withUnsafeBufferPointer { body($0.baseAddress!) }
    }

    /// The same, as the `const char *const *` C APIs such as libpq take.
    static func withConst<T>(_ strings: [String?], _ body: (UnsafePointer<UnsafePointer<CChar>?>) -> T) -> T {
        with(strings) { body(UnsafeRawPointer($0).assumingMemoryBound(to: UnsafePointer<CChar>?.self)) }
    }
}
