/// What a remote terminal's output goes through on its way to the local one (secrets masked):
/// `feed` takes each piece read and returns what to show; it may hold back the end of a piece,
/// which `flush` lets out when no more output came within `flushAfterMs`.
public struct TerminalOutputFilter: Sendable {
    public var feed: @Sendable (ArraySlice<UInt8>) -> [UInt8]
    public var flush: @Sendable () -> [UInt8]
    public var isHolding: @Sendable () -> Bool
    public var flushAfterMs: Int32

    public init(
        feed: @escaping @Sendable (ArraySlice<UInt8>) -> [UInt8], flush: @escaping @Sendable () -> [UInt8],
        isHolding: @escaping @Sendable () -> Bool, flushAfterMs: Int32 = 50
    ) {
        self.feed = feed
        self.flush = flush
        self.isHolding = isHolding
        self.flushAfterMs = flushAfterMs
    }
}
