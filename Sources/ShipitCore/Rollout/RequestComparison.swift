import FoundationEssentials

/// What a proxy gate measured in a request step, per release: the record the ledger keeps (a
/// `requests` event) and `changes --json` shows. Pure data.
public struct RequestComparison: Sendable, Codable, Equatable {
    public struct Release: Sendable, Codable, Equatable {
        public var release: String
        public var requests: Int
        public var errors: Int
        public var errorRatio: Double
        /// Milliseconds (nil: no request).
        public var p50: Double?
        public var p95: Double?
        public var p99: Double?

        public init(release: String, _ s: GoldenSignals) {
            self.release = release
            requests = s.requests
            errors = s.errors
            errorRatio = s.errorRatio
            p50 = s.percentile(0.5)
            p95 = s.percentile(0.95)
            p99 = s.percentile(0.99)
        }
    }

    /// The step (1-based) and the share of requests the canary got.
    public var step: Int
    public var share: Int
    public var canary: Release
    public var baseline: Release
    /// `pass`, `fail` or `too few`.
    public var verdict: String
    public var reasons: [String]

    public var json: String { LedgerJSON.encode(self) }

    public static func parse(_ text: String) -> RequestComparison? { LedgerJSON.decode(Self.self, text) }
}
