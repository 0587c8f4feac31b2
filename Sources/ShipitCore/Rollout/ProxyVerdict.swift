import FoundationEssentials
import ShipitSupport

/// A `proxy` gate's judgement of a request step: the new release (the canary) against the release
/// that serves the rest of the requests (the baseline), both measured by the proxy over the same
/// time. Pure: the owner samples the hosts and decides what a verdict does to the bake.
public struct ProxyVerdict: Sendable, Equatable {
    /// The gate's limits (`rollout.gates[]` with `type: proxy`); nil: not checked.
    public struct Limits: Sendable, Equatable {
        public var maxErrorRatio: Double?
        public var maxErrorRatioIncrease: Double?
        public var maxP95Ratio: Double?
        /// Requests the canary must have answered before it is judged at all.
        public var minRequests = 50
        /// p95s under this many milliseconds are not compared: at that scale a ratio is noise.
        public var p95FloorMS = 5.0

        public init() {}
    }

    public enum Outcome: Sendable, Equatable {
        case pass
        case fail
        /// Fewer than `minRequests` canary requests: nothing to judge yet.
        case tooFew
    }

    public let outcome: Outcome
    /// What failed, one phrase each (empty when it passed).
    public let reasons: [String]
    /// `v2 error 0.4 % vs v1 0.3 %, p95 41 ms vs 38 ms (1,204 vs 10,873 requests)`.
    public let summary: String

    public static func judge(
        canary: GoldenSignals, baseline: GoldenSignals, limits: Limits, canaryName: String, baselineName: String
    ) -> ProxyVerdict {
        let summary = Self.summary(
            canary: canary, baseline: baseline, canaryName: canaryName, baselineName: baselineName)
        guard canary.requests >= limits.minRequests else {
            return ProxyVerdict(
                outcome: .tooFew, reasons: ["\(canary.requests) of the \(limits.minRequests) requests needed"],
                summary: summary)
        }
        var reasons: [String] = []
        let ce = canary.errorRatio
        let be = baseline.errorRatio
        if let m = limits.maxErrorRatio, ce > m {
            reasons.append("error ratio \(percent(ce)) over \(percent(m))")
        }
        if let m = limits.maxErrorRatioIncrease, ce - be > m {
            reasons.append("error ratio \(percent(ce - be)) above the baseline's, over \(percent(m))")
        }
        if let m = limits.maxP95Ratio, let cp = canary.percentile(0.95) {
            // An idle baseline (or one under the floor) is compared as the floor.
            let bp = max(baseline.percentile(0.95) ?? 0, limits.p95FloorMS)
            if cp > limits.p95FloorMS, cp / bp > m {
                reasons.append("p95 \(ms(cp)) is \(ratio(cp / bp))× the baseline's, over \(ratio(m))×")
            }
        }
        return ProxyVerdict(outcome: reasons.isEmpty ? .pass : .fail, reasons: reasons, summary: summary)
    }

    static func summary(canary: GoldenSignals, baseline: GoldenSignals, canaryName: String, baselineName: String)
        -> String
    {
        var s = "\(canaryName) error \(percent(canary.errorRatio)) vs \(baselineName) \(percent(baseline.errorRatio))"
        if let cp = canary.percentile(0.95), let bp = baseline.percentile(0.95) {
            s += ", p95 \(ms(cp)) vs \(ms(bp))"
        }
        return s + " (\(canary.requests) vs \(baseline.requests) requests)"
    }

    /// The same line from a recorded comparison.
    static func summary(canary: RequestComparison.Release, baseline: RequestComparison.Release) -> String {
        var s =
            "\(canary.release) error \(percent(canary.errorRatio)) vs \(baseline.release) \(percent(baseline.errorRatio))"
        if let cp = canary.p95, let bp = baseline.p95 { s += ", p95 \(ms(cp)) vs \(ms(bp))" }
        return s + " (\(canary.requests) vs \(baseline.requests) requests)"
    }

    static func percent(_ r: Double) -> String {
        let p = r * 100
        return p == 0 ? "0 %" : p < 10 ? String(cFormat: "%.1f %%", p) : String(cFormat: "%.0f %%", p)
    }

    static func ms(_ v: Double) -> String { v < 10 ? String(cFormat: "%.1f ms", v) : String(cFormat: "%.0f ms", v) }

    static func ratio(_ v: Double) -> String { String(cFormat: "%.2f", v) }
}
