import FoundationEssentials

/// `shipit stats`: the four DORA figures and deploy durations, from the ledger alone.
///
/// - A *change* is a deploy that reached production: it succeeded, was rolled back (automatically
///   or failed rolling back), or failed and was left switched. A deploy stopped before any switch
///   changed nothing and does not count.
/// - *Change failure rate*: failed changes ÷ changes.
/// - *Time to restore*: from a failed change's start to the end of the run that restored service —
///   its own automatic rollback, else the next successful deploy or rollback.
/// - *Lead time*: from a deployed commit's time (`--ref` deploys; read with git) to the end of the
///   deploy that shipped it.
public struct DeployStats: Codable, Sendable {
    public struct Spread: Codable, Sendable, Equatable {
        public var count: Int
        public var p50: Double?
        public var p95: Double?
    }

    public struct Day: Codable, Sendable, Equatable {
        public var day: String
        public var succeeded: Int
        public var failed: Int
    }

    public var from: Date
    public var to: Date
    public var days: Double
    public var changes: Int
    public var succeeded: Int
    public var failedChanges: Int
    public var stoppedBeforeSwitch: Int
    public var rollbacks: Int
    public var deploymentsPerDay: Double
    public var changeFailureRate: Double?
    /// Seconds.
    public var timeToRestore: Spread
    public var leadTime: Spread
    public var duration: Spread
    public var perDay: [Day]

    public static func compute(_ samples: [DeploySample], from: Date, to: Date, commitTimes: [String: Date] = [:])
        -> DeployStats
    {
        let deploys = samples.lazy.filter(\.isDeploy)
        var succeeded = 0
        var failedChanges = 0
        var stopped = 0
        var restore: [Double] = []
        var lead: [Double] = []
        var durations: [Double] = []
        durations.reserveCapacity(samples.count)
        // (UTC day number, succeeded, failed): samples come in start order, so a day's counts
        // are one run of the list (no hashing per attempt); formatted once per day at the end.
        var days: [(day: Int, ok: Int, failed: Int)] = []
        func count(_ day: Int, ok: Bool) {
            if days.last?.day != day { days.append((day, 0, 0)) }
            if ok { days[days.count - 1].ok += 1 } else { days[days.count - 1].failed += 1 }
        }
        var successes: [Date] = []
        successes.reserveCapacity(samples.count)
        for s in samples where s.outcome == .succeeded { if let f = s.finishedAt { successes.append(f) } }
        successes.sort()
        // Binary search: 100k attempts with thousands of failures stay fast.
        func firstSuccess(after t: Date) -> Date? {
            var lo = 0
            var hi = successes.count
            while lo < hi {
                let mid = (lo + hi) / 2
                if successes[mid] > t { hi = mid } else { lo = mid + 1 }
            }
            return lo < successes.count ? successes[lo] : nil
        }
        func failedChange(_ d: DeploySample, day: Int) {
            failedChanges += 1
            count(day, ok: false)
            let restoredAt: Date? = d.outcome == .rolledBack ? d.finishedAt : firstSuccess(after: d.startedAt)
            if let r = restoredAt { restore.append(r.timeIntervalSince(d.startedAt)) }
        }
        for d in deploys {
            let day = Int((d.startedAt.timeIntervalSince1970 / 86400).rounded(.down))
            switch d.outcome {
            case .succeeded:
                succeeded += 1
                count(day, ok: true)
                if let f = d.finishedAt {
                    durations.append(f.timeIntervalSince(d.startedAt))
                    if let c = d.commit, let t = commitTimes[c], t <= f { lead.append(f.timeIntervalSince(t)) }
                }
            case .rolledBack, .rollbackFailed: failedChange(d, day: day)
            case .failed, .interrupted:
                if d.leftSwitched { failedChange(d, day: day) } else { stopped += 1 }
            case .running, .paused: break
            }
        }
        let span = max(to.timeIntervalSince(from) / 86400, 1.0 / 24)
        let changes = succeeded + failedChanges
        return DeployStats(
            from: from, to: to, days: span, changes: changes, succeeded: succeeded, failedChanges: failedChanges,
            stoppedBeforeSwitch: stopped, rollbacks: samples.reduce(0) { $0 + ($1.isDeploy ? 0 : 1) },
            deploymentsPerDay: Double(succeeded) / span,
            changeFailureRate: changes == 0 ? nil : Double(failedChanges) / Double(changes),
            timeToRestore: spread(restore), leadTime: spread(lead), duration: spread(durations),
            perDay: mergeDays(days))
    }

    /// One entry per day, in order (runs of the same day merged, in case the input was not in
    /// start order).
    static func mergeDays(_ runs: [(day: Int, ok: Int, failed: Int)]) -> [Day] {
        var merged: [Int: (Int, Int)] = [:]
        for r in runs {
            merged[r.day, default: (0, 0)].0 += r.ok
            merged[r.day, default: (0, 0)].1 += r.failed
        }
        return merged.keys.sorted().map {
            Day(
                day: String(UTCTime.iso(Date(timeIntervalSince1970: Double($0) * 86400)).prefix(10)),
                succeeded: merged[$0]!.0, failed: merged[$0]!.1)
        }
    }

    /// Nearest-rank percentiles, by selection (no full sort of 100k durations).
    static func spread(_ values: [Double]) -> Spread {
        guard !values.isEmpty else { return Spread(count: 0, p50: nil, p95: nil) }
        var v = values
        func rank(_ p: Double) -> Int { min(v.count - 1, max(0, Int((p * Double(v.count)).rounded(.up)) - 1)) }
        let p95 = select(&v, rank(0.95))
        // Everything before the p95 rank is now at most p95: the median is selected among those.
        let p50 = select(&v, rank(0.5), upTo: rank(0.95))
        return Spread(count: v.count, p50: p50, p95: p95)
    }

    /// The k-th smallest of `v[0...upTo]` (Hoare quickselect, middle pivot); partially reorders `v`.
    static func select(_ v: inout [Double], _ k: Int, upTo last: Int? = nil) -> Double {
        var lo = 0
        var hi = last ?? v.count - 1
        while lo < hi {
            let pivot = v[(lo + hi) / 2]
            var i = lo
            var j = hi
            while i <= j {
                while v[i] < pivot { i += 1 }
                while v[j] > pivot { j -= 1 }
                if i <= j {
                    v.swapAt(i, j)
                    i += 1
                    j -= 1
                }
            }
            if k <= j { hi = j } else if k >= i { lo = i } else { return v[k] }
        }
        return v[k]
    }
}
