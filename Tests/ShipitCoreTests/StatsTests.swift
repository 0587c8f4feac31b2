import Foundation
import Testing

@testable import ShipitCore

@Suite("stats: percentiles and counting")
struct StatsTests {
    /// Nearest rank from a full sort: what selection must agree with.
    func naive(_ values: [Double], _ p: Double) -> Double {
        let v = values.sorted()
        return v[min(v.count - 1, max(0, Int((p * Double(v.count)).rounded(.up)) - 1))]
    }

    @Test func selectionAgreesWithSortingOnRandomInputWithDuplicates() {
        var rng = SystemRandomNumberGenerator()
        for n in Array(1...60) + [99, 100, 101, 1000, 4097] {
            for _ in 0..<5 {
                let values = (0..<n).map { _ in Double(Int.random(in: 0...(n / 3 + 1), using: &rng)) }
                let s = DeployStats.spread(values)
                #expect(s.count == n)
                #expect(s.p50 == naive(values, 0.5), "n=\(n) \(values)")
                #expect(s.p95 == naive(values, 0.95), "n=\(n)")
            }
        }
        #expect(DeployStats.spread([]).p50 == nil)
        #expect(DeployStats.spread(Array(repeating: 7, count: 50)).p95 == 7)
    }

    @Test func aChangeIsWhatReachedProduction() {
        let t0 = Date(timeIntervalSince1970: 1_800_000_000)
        func s(_ i: Double, _ o: LedgerAttempt.Outcome, switched: Bool = false, deploy: Bool = true) -> DeploySample {
            DeploySample(
                isDeploy: deploy, outcome: o, startedAt: t0.addingTimeInterval(i * 100),
                finishedAt: t0.addingTimeInterval(i * 100 + 10), commit: nil, leftSwitched: switched)
        }
        let stats = DeployStats.compute(
            [
                s(0, .succeeded), s(1, .failed), s(2, .failed, switched: true), s(3, .rolledBack),
                s(4, .succeeded, deploy: false), s(5, .succeeded),
            ],
            from: t0, to: t0.addingTimeInterval(86400))
        #expect(
            stats.changes == 4 && stats.failedChanges == 2 && stats.stoppedBeforeSwitch == 1 && stats.rollbacks == 1)
        // The switched failure (at 200) is restored by the rollback that succeeded at 410; the
        // rolled-back one by its own rollback (10 s).
        #expect(stats.timeToRestore.count == 2 && stats.timeToRestore.p50 == 10 && stats.timeToRestore.p95 == 210)
        #expect(stats.perDay.count == 1 && stats.perDay[0].succeeded == 2 && stats.perDay[0].failed == 2)
    }
}
