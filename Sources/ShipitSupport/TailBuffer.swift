import FoundationEssentials

/// Keeps the last `limit` bytes appended, so a command that prints gigabytes costs bounded memory.
public struct TailBuffer: Sendable {
    public let limit: Int
    public private(set) var data = Data()
    public private(set) var dropped = 0

    public init(limit: Int) {
        self.limit = max(0, limit)
    }

    public mutating func append(_ chunk: Data) {
        chunk.withUnsafeBytes { append($0) }
    }

    public mutating func append(_ bytes: UnsafeRawBufferPointer) {
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
