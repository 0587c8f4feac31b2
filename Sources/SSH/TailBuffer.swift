import Foundation

/// Keeps the last `limit` bytes appended, so a command that prints gigabytes costs bounded memory.
struct TailBuffer {
    let limit: Int
    private(set) var data = Data()
    private(set) var dropped = 0

    init(limit: Int) {
        self.limit = max(0, limit)
    }

    mutating func append(_ bytes: UnsafeRawBufferPointer) {
        guard bytes.count > 0 else { return }
        if bytes.count >= limit {
            dropped += data.count + bytes.count - limit
            data = Data(bytes.suffix(limit))
            return
        }
        let overflow = data.count + bytes.count - limit
        if overflow > 0 {
            // Compact in one go rather than shifting per chunk.
            data.removeSubrange(data.startIndex..<(data.startIndex + overflow))
            dropped += overflow
        }
        data.append(contentsOf: bytes)
    }
}
