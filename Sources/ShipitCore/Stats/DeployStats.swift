import Foundation

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

    public static func compute(_ samples: [DeploySample], from: Date, to: Date, commitTimes: [String: Date] = [:]) -> DeployStats {
        let deploys = samples.filter { $0.operation == "deploy" }
        var succeeded = 0, failedChanges = 0, stopped = 0
        var restore: [Double] = []
        var lead: [Double] = []
        var durations: [Double] = []
        // Keyed by UTC day number; formatted once per day at the end (not once per attempt).
        var days: [Int: (Int, Int)] = [:]
        let successes = samples.filter { $0.outcome == .succeeded }.compactMap(\.finishedAt).sorted()
        // Binary search: 100k attempts with thousands of failures stay fast.
        func firstSuccess(after t: Date) -> Date? {
            var lo = 0, hi = successes.count
            while lo < hi { let mid = (lo + hi) / 2; if successes[mid] > t { hi = mid } else { lo = mid + 1 } }
            return lo < successes.count ? successes[lo] : nil
        }
        func failedChange(_ d: DeploySample, day: Int) {
            failedChanges += 1
            days[day, default: (0, 0)].1 += 1
            let restoredAt: Date? = d.outcome == .rolledBack ? d.finishedAt : firstSuccess(after: d.startedAt)
            if let r = restoredAt { restore.append(r.timeIntervalSince(d.startedAt)) }
        }
        for d in deploys {
            let day = Int((d.startedAt.timeIntervalSince1970 / 86400).rounded(.down))
            switch d.outcome {
            case .succeeded:
                succeeded += 1
                days[day, default: (0, 0)].0 += 1
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
        return DeployStats(from: from, to: to, days: span, changes: changes, succeeded: succeeded, failedChanges: failedChanges,
                           stoppedBeforeSwitch: stopped, rollbacks: samples.filter { $0.operation == "rollback" }.count,
                           deploymentsPerDay: Double(succeeded) / span,
                           changeFailureRate: changes == 0 ? nil : Double(failedChanges) / Double(changes),
                           timeToRestore: spread(restore), leadTime: spread(lead), duration: spread(durations),
                           perDay: days.keys.sorted().map { Day(day: String(UTCTime.iso(Date(timeIntervalSince1970: Double($0) * 86400)).prefix(10)), succeeded: days[$0]!.0, failed: days[$0]!.1) })
    }

    /// Nearest-rank percentiles.
    static func spread(_ values: [Double]) -> Spread {
        let v = values.sorted()
        func pct(_ p: Double) -> Double? { v.isEmpty ? nil : v[min(v.count - 1, max(0, Int((p * Double(v.count)).rounded(.up)) - 1))] }
        return Spread(count: v.count, p50: pct(0.5), p95: pct(0.95))
    }
}
