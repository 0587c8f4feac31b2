import Foundation
import ShipitCore
import Testing

/// A terminal's output masked as it arrives: a secret split anywhere between pieces is masked
/// whole, what cannot be a secret passes at once and byte for byte (escapes included), and what
/// was held back comes out unchanged when no more output completes a secret.
@Suite("secret stream mask: a terminal's output in pieces")
struct SecretStreamMaskTests {
    static let secrets = ["hunter2-pw", "tok-1234567890", "tok-12"]
    static let text =
        "\u{1b}[1mpassword:\u{1b}[0m hunter2-pw\r\ntoken tok-1234567890 and tok-12 twice: tok-12tok-12 hunter2-p\r\n$ "
    static let masked =
        "\u{1b}[1mpassword:\u{1b}[0m ***\r\ntoken *** and *** twice: ****** hunter2-p\r\n$ "

    func run(_ pieces: [ArraySlice<UInt8>]) -> String {
        var m = SecretStreamMask(secrets: Self.secrets)
        var out: [UInt8] = []
        for p in pieces { out += m.feed(p) }
        out += m.flush()
        return String(decoding: out, as: UTF8.self)
    }

    @Test func everySplitInTwoOrThreeGivesTheSameMaskedText() {
        let bytes = Array(Self.text.utf8)
        #expect(run([bytes[...]]) == Self.masked)
        for i in 0...bytes.count {
            #expect(run([bytes[..<i], bytes[i...]]) == Self.masked, "split at \(i)")
            for j in stride(from: i, through: bytes.count, by: 7) {
                #expect(run([bytes[..<i], bytes[i..<j], bytes[j...]]) == Self.masked, "split at \(i), \(j)")
            }
        }
        // A byte at a time: what a slow program or an echoed keystroke gives.
        #expect(run(bytes.map { [$0][...] }) == Self.masked)
    }

    @Test func onlyAPossibleStartOfASecretIsHeldAndFlushLetsItOut() {
        var m = SecretStreamMask(secrets: Self.secrets)
        #expect(m.feed(Array("$ ls\r\n".utf8)) == Array("$ ls\r\n".utf8))
        #expect(!m.isHolding)
        #expect(m.feed(Array("echo hunt".utf8)) == Array("echo ".utf8))
        #expect(m.isHolding)
        #expect(m.flush() == Array("hunt".utf8))
        #expect(!m.isHolding)
        var none = SecretStreamMask(secrets: [])
        #expect(none.feed(Array("hunter2-pw".utf8)) == Array("hunter2-pw".utf8))
    }
}
