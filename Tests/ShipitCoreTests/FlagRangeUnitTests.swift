import Foundation
import ShipitCore
import Testing

@Suite("flag ranges and durations")
struct FlagRangeUnitTests {
    @Test(arguments: [Double.infinity, -.infinity, .nan, -1, 0, 1e300, 601])
    func secondsOutsideTheRangeAreRefusedNamingTheFlag(_ v: Double) {
        do {
            try FlagRange.check(v, flag: "--connect-timeout", 0.1...600)
            Issue.record("accepted \(v)")
        } catch let e as ShipitError {
            #expect(e.exitCode == .usage)
            #expect(e.message.hasPrefix("--connect-timeout: "), "\(e.message)")
        } catch { Issue.record("\(error)") }
    }

    @Test func boundsAndNilPass() throws {
        try FlagRange.check(0.1, flag: "--x", 0.1...600)
        try FlagRange.check(600.0, flag: "--x", 0.1...600)
        try FlagRange.check(nil as Double?, flag: "--x", 0.1...600)
        try FlagRange.positive(86400, flag: "--x", max: 86400)
        #expect(throws: ShipitError.self) { try FlagRange.positive(0, flag: "--x", max: 86400) }
        #expect(throws: ShipitError.self) { try FlagRange.positive(.nan, flag: "--x", max: 86400) }
        try FlagRange.check(0, flag: "--lock-wait", 0...86400)
        #expect(throws: ShipitError.self) {
            try FlagRange.check(922_337_203_685_477_581, flag: "--lock-wait", 0...86400)
        }
        #expect(throws: ShipitError.self) { try FlagRange.check(Int.min, flag: "--lock-wait", 0...86400) }
    }

    @Test func durationsAreFiniteAndBounded() throws {
        #expect(UTCTime.duration("90s") == 90)
        #expect(UTCTime.duration("2h") == 7200)
        #expect(UTCTime.duration("3650d") == UTCTime.maxDuration)
        for bad in ["infd", "inf", "nanh", "-1h", "1e300s", "9223372036854775807w", "3651d", "522w", "2x", "", "d"] {
            #expect(UTCTime.duration(bad) == nil, "\(bad)")
        }
        do {
            _ = try UTCTime.window(since: "infd", from: nil, to: nil)
            Issue.record("accepted infd")
        } catch let e as ShipitError { #expect(e.message.hasPrefix("--since: ")) }
    }
}
