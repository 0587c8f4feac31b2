/// glibc's mallopt, which Swift's Glibc module does not import (malloc.h).
@_silgen_name("mallopt")
private func mallopt(_ parameter: Int32, _ value: Int32) -> Int32

/// Fewer malloc arenas than glibc's default of eight per core: every host's SSH session blocks on
/// a thread of its own, and each such thread would otherwise get an arena (about 100 KiB to 1 MiB
/// resident each, most of it free) — a 50-host deploy held ~3 MiB more. A user's own
/// MALLOC_ARENA_MAX still wins.
enum MemoryTuning {
    static func apply(environment: [String: String]) {
        guard environment["MALLOC_ARENA_MAX"] == nil else { return }
        _ = mallopt(-8, 2)  // M_ARENA_MAX
    }
}
