import FoundationEssentials

#if canImport(Glibc)
    import Glibc
#endif

/// One release's golden signals as the proxy saw them (requests, 5xx answers, latency), from
/// nginx's own per-request records of a slot's server: no instrumentation in the app. Hosts send
/// counts and a latency histogram (`collect`'s lines), so the fleet's percentiles come from
/// merging histograms, not from averaging each host's percentiles. Pure.
public struct GoldenSignals: Sendable, Equatable {
    public var requests = 0
    public var errors = 0
    /// Requests per latency bucket (`bucket(ms:)`).
    public var latency: [Int: Int] = [:]

    public init() {}

    /// The share of answers that were 5xx (0 with no request).
    public var errorRatio: Double { requests == 0 ? 0 : Double(errors) / Double(requests) }

    /// Buckets grow by 5 %: bucket `i` holds latencies up to `exp((i + 1) / 20) - 1` ms, so a
    /// percentile read back is at most 5 % (or 0.05 ms) above the true one.
    static let perE = 20.0

    public static func bucket(ms: Double) -> Int { Int((log(1 + max(0, ms)) * perE).rounded(.down)) }

    static func upperBound(of bucket: Int) -> Double { exp(Double(bucket + 1) / perE) - 1 }

    /// The latency (ms) under which `q` (0…1) of the requests answered; nil with no request.
    public func percentile(_ q: Double) -> Double? {
        let total = latency.values.reduce(0, +)
        guard total > 0 else { return nil }
        let rank = max(1, Int((q * Double(total)).rounded(.up)))
        var seen = 0
        for b in latency.keys.sorted() {
            seen += latency[b] ?? 0
            if seen >= rank { return Self.upperBound(of: b) }
        }
        return nil
    }

    public mutating func add(_ other: GoldenSignals) {
        requests += other.requests
        errors += other.errors
        for (b, n) in other.latency { latency[b, default: 0] += n }
    }

    /// Every host's `collect` output merged, by slot port. Lines: `golden SLOT REQUESTS ERRORS`
    /// and `latency SLOT BUCKET COUNT`; anything else is not this function's.
    public static func parse(_ outputs: [String]) -> [Int: GoldenSignals] {
        var out: [Int: GoldenSignals] = [:]
        for text in outputs {
            for line in text.split(separator: "\n") {
                let f = line.split(separator: " ")
                guard f.count == 4, let slot = Int(f[1]), let a = Int(f[2]), let b = Int(f[3]),
                    a >= 0, b >= 0
                else { continue }
                switch f[0] {
                case "golden":
                    out[slot, default: GoldenSignals()].requests += a
                    out[slot, default: GoldenSignals()].errors += b
                case "latency":
                    out[slot, default: GoldenSignals()].latency[a, default: 0] += b
                default: continue
                }
            }
        }
        return out
    }

    /// The host side: aggregates the records in `$1` (`logFormat`) into `parse`'s lines. The
    /// latency is the app's (`$upstream_response_time`, the last field: its last value when nginx
    /// tried more than once), or the request's own time where nginx never reached the app (`-`).
    static let collect = ShellFunction(
        "golden_collect", requires: [],
        """
        golden_collect() {
          [ -f "$1" ] || return 0
          awk -v per=\(Int(perE)) '
            NF >= 4 && $1 ~ /^[0-9]+$/ && $2 ~ /^[0-9]+$/ {
              n[$1]++; if ($2 >= 500) e[$1]++
              t = $NF; gsub(/[,:]/, "", t)
              if (t !~ /^[0-9.]+$/) t = $3
              if (t !~ /^[0-9.]+$/) next
              b = int(log(1 + t * 1000) * per); h[$1 " " b]++
            }
            END {
              for (s in n) printf "golden %s %d %d\\n", s, n[s], e[s] + 0
              for (k in h) printf "latency %s %d\\n", k, h[k]
            }' "$1"
        }
        """)

    /// nginx's record of one request at a slot's server, for `collect`.
    public static let logFormat = "$shipit_slot $status $request_time $upstream_response_time"
}
