import Foundation
import Testing

@testable import SSH

@Suite struct TailBufferTests {
    private func append(_ b: inout TailBuffer, _ s: String) {
        Array(s.utf8).withUnsafeBytes { b.append($0) }
    }

    @Test func keepsTheLastBytes() {
        var b = TailBuffer(limit: 5)
        append(&b, "abc")
        #expect(b.data == Data("abc".utf8))
        append(&b, "defg")
        #expect(b.data == Data("cdefg".utf8))
        #expect(b.dropped == 2)
        append(&b, "0123456789")
        #expect(b.data == Data("56789".utf8))
        #expect(b.dropped == 12)
    }

    @Test func zeroLimitKeepsNothing() {
        var b = TailBuffer(limit: 0)
        append(&b, "abc")
        #expect(b.data.isEmpty)
        #expect(b.dropped == 3)
    }
}
