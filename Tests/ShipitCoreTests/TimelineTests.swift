import Foundation
import ShipitCore
import Testing

@Suite("changes: time windows and the merged timeline")
struct TimelineTests {
    let now = Date(timeIntervalSince1970: 1_800_000_000)

    @Test func parsesDurationsAndUTCTimes() throws {
        #expect(UTCTime.duration("90s") == 90)
        #expect(UTCTime.duration("2h") == 7200)
        #expect(UTCTime.duration("7d") == 604_800)
        #expect(UTCTime.duration("2x") == nil)
        #expect(UTCTime.duration("-1h") == nil)
        #expect(UTCTime.parse("2026-11-28T05:30:00Z") == UTCTime.parse("2026-11-28 05:30"))
        #expect(UTCTime.parse("2026-11-28T06:30:00+01:00") == UTCTime.parse("2026-11-28T05:30Z"))
        #expect(
            UTCTime.parse("2026-11-28T05:30:00.250Z")!.timeIntervalSince(UTCTime.parse("2026-11-28T05:30:00Z")!) == 0.25
        )
        #expect(UTCTime.parse("yesterday") == nil)
        let (from, to) = try UTCTime.window(since: "2h", from: nil, to: nil, now: now)
        #expect(from == now.addingTimeInterval(-7200))
        #expect(to == nil)
    }

    @Test func badWindowsNameTheFlag() {
        #expect(throws: ShipitError.self) { try UTCTime.window(since: "2 hours", from: nil, to: nil) }
        do { _ = try UTCTime.window(since: nil, from: "2026-11-28T05:00Z", to: "2026-11-28T04:00Z") } catch let e
            as ShipitError
        {
            #expect(e.message.hasPrefix("--to:"))
            #expect(e.exitCode == .usage)
        } catch { Issue.record("unexpected \(error)") }
        #expect(throws: ShipitError.self) { try UTCTime.window(since: "1h", from: "2026-11-28", to: nil) }
    }

    func entry(
        _ attempt: String, _ event: String, _ release: String, at t: TimeInterval, outcome: String? = nil,
        app: String = "web"
    ) -> HostHistory.Entry {
        HostHistory.Entry(
            time: Date(timeIntervalSince1970: t), event: event, app: app, stage: nil, release: release,
            previous: "r0", attempt: attempt, by: "ops@box", outcome: outcome)
    }

    @Test func hostHistoryParsesLinesAndSkipsDamagedOnes() {
        let line = entry("a1", "deploy", "r1", at: 1000).jsonLine
        let parsed = HostHistory.parse(
            line + "\n{broken\n\n" + #"{"time":"2026-11-28T05:30:00Z","event":"deploy","release":"r2"}"#)
        #expect(parsed.count == 2)
        #expect(parsed[0] == entry("a1", "deploy", "r1", at: 1000))
        #expect(parsed[1].release == "r2")
    }

    @Test func mergesLedgerAndHostHistoryIntoOneTimeline() {
        let ledgerAttempt = LedgerAttempt(
            id: "a1", app: "web", stage: nil, strategy: "symlink", operation: "deploy", releaseID: "r1",
            user: "ops", machine: "box", pid: 1, startedAt: Date(timeIntervalSince1970: 1000),
            outcome: .succeeded, configHash: "c2")
        let history = [
            "h1": [
                entry("a1", "deploy", "r1", at: 1001), entry("a1", "outcome", "r1", at: 1002, outcome: "succeeded"),
                entry("a2", "deploy", "r2", at: 2000), entry("a2", "auto-rollback", "r1", at: 2001),
                entry("a3", "rollback", "r0", at: 3000), entry("other", "deploy", "x", at: 2500, app: "not-web"),
                entry("old", "deploy", "r-1", at: 10),
            ],
            "h2": [entry("a2", "deploy", "r2", at: 2000.5)],
        ]
        let entries = TimelineBuilder.entries(
            attempts: [ledgerAttempt], configs: ["c1": ["health.port": "80"], "c2": ["health.port": "8080"]],
            configBefore: "c1", history: history, from: Date(timeIntervalSince1970: 500), to: nil,
            app: "web", stage: nil)
        #expect(entries.map(\.attempt) == ["a1", "a2", "a3"])
        #expect(entries.map(\.origin) == ["ledger+hosts", "hosts", "hosts"])
        #expect(entries.map(\.outcome) == ["succeeded", "rolled-back", "unknown"])
        #expect(entries.map(\.operation) == ["deploy", "deploy", "rollback"])
        #expect(entries[0].configChanges == ["health.port: 80 → 8080"])
        #expect(entries[1].hosts.map(\.host) == ["h1", "h2"])
        #expect(entries[1].hosts[0].current == "r1")  // rolled back on h1
    }

    @Test func configDiffs() {
        #expect(TimelineBuilder.diff(["a": "1", "b": "2"], ["a": "1", "b": "3", "c": "4"]) == ["b: 2 → 3", "+c = 4"])
        #expect(TimelineBuilder.diff(["a": "1"], [:]) == ["-a"])
        #expect(TimelineBuilder.diff(["p": "***"], ["p": "***"]) == ["a redacted (secret) setting changed"])
    }
}
