import FoundationEssentials

/// Turns a byte stream into complete lines (without the newline); the last partial line is kept until
/// more data or `finish()`. Invalid UTF-8 is shown with replacement characters, never dropped.
/// Linear in the input, and bounded: a "line" longer than `maxLine` bytes (50 MB without a newline)
/// is handed out in `maxLine` pieces instead of being held whole.
public struct LineSplitter: Sendable {
    public static let defaultMaxLine = 64 * 1024
    private var pending = Data()
    /// Bytes of `pending` already searched for a newline.
    private var scanned = 0
    private let maxLine: Int

    public init(maxLine: Int = LineSplitter.defaultMaxLine) {
        self.maxLine = max(4, maxLine)
    }

    public mutating func feed(_ data: Data) -> [String] {
        pending.append(data)
        var lines: [String] = []
        var start = pending.startIndex
        var i = pending.startIndex + scanned
        while i < pending.endIndex {
            if pending[i] == 0x0A {
                var end = i
                if end > start && pending[end - 1] == 0x0D { end -= 1 }
                lines.append(String(decoding: pending[start..<end], as: UTF8.self))
                start = i + 1
            } else if i - start + 1 >= maxLine {
                // Cut before a UTF-8 continuation byte, so a character is not split in two.
                var cut = i + 1
                while cut > start + 1, cut < pending.endIndex, pending[cut] & 0xC0 == 0x80, i + 1 - cut < 3 { cut -= 1 }
                lines.append(String(decoding: pending[start..<cut], as: UTF8.self))
                start = cut
            }
            i += 1
        }
        pending.removeSubrange(pending.startIndex..<start)
        scanned = pending.count
        return lines
    }

    public mutating func finish() -> [String] {
        defer {
            pending = Data()
            scanned = 0
        }
        return pending.isEmpty ? [] : [String(decoding: pending, as: UTF8.self)]
    }
}
