import Foundation
import TestSupport
import Testing

@testable import ShipitCore

/// Values a host hands back are checked before shipit uses them: a hostile host printing
/// `digest=`, `current=`, `slot.active=`, `lock.holder=`… with shell syntax, paths or SQL gets
/// nothing of it into a release id, a path, a psql literal or a later script.
@Suite("values returned by hosts")
struct HostValueTests {
    static let digest = "sha256:" + String(repeating: "ab12", count: 16)

    static let hostileWords = [
        "", "..", ".", "../../etc", "/etc/passwd", "a/b", "-rf", "--help", "a b", "x;rm -rf /", "$(touch /tmp/pwned)",
        "`id`", "it's", "'); DROP TABLE shipit_migrations; --", "glob*", "new\nline", "tab\t", "üñí", "\u{7}bell",
        String(repeating: "a", count: 201),
    ]
    static let hostileDigests = [
        "", "sha256:", "sha256:" + String(repeating: "A", count: 64), "sha256:" + String(repeating: "a", count: 63),
        "sha256:" + String(repeating: "a", count: 65), "sha512:" + String(repeating: "a", count: 64), digest + "'; --",
        digest + "/../x", "md5:abc", String(repeating: "a", count: 64), "sha256:" + String(repeating: "g", count: 64),
    ]
    static let hostileNumbers = [
        "-", "1.5", "1e3", "0x10", "12a", " 1", "1 ", "$((1+1))", "99999999999999999999", "١٢",
    ]

    @Test(arguments: hostileWords)
    func aHostileReleaseIDIsNotUsed(value: String) {
        for key in ["switched", "extracted", "warmed", "retreated", "created"] {
            #expect(!HostValue.isValid(value, as: HostValue.shape(of: key)), "\(key)=\(value)")
        }
        if !value.isEmpty { #expect(!HostValue.isValid(value, as: HostValue.shape(of: "current")), "current=\(value)") }
        if !value.isEmpty {
            #expect(!HostValue.isValid(value, as: HostValue.shape(of: "lock.holder")), "lock.holder=\(value)")
        }
    }

    @Test(arguments: hostileDigests)
    func aHostileDigestIsNotUsed(value: String) {
        #expect(!HostValue.isDigest(value))
        #expect(!HostValue.isValid(value, as: HostValue.shape(of: "digest")))
    }

    @Test(arguments: hostileNumbers)
    func aHostileNumberIsNotUsed(value: String) {
        for key in ["changed", "slot", "slot.active", "warm.exit", "lock.pid", "check.db", "diskkb"] {
            #expect(!HostValue.isValid(value, as: HostValue.shape(of: key)), "\(key)=\(value)")
        }
    }

    @Test func goodValuesPass() {
        #expect(HostValue.isValid(Self.digest, as: .digest))
        #expect(HostValue.isValid("20261206T101500123Z-1a2b3c4d", as: HostValue.shape(of: "current")))
        #expect(HostValue.isValid("v1.2_rc-0123456789ab", as: HostValue.shape(of: "switched")))
        #expect(HostValue.isValid("", as: HostValue.shape(of: "current")))
        #expect(HostValue.isValid("-3", as: HostValue.shape(of: "warm.exit")))
        // None yet: the active slot before the first switch, a lock file without a holder line's value.
        #expect(HostValue.isValid("", as: HostValue.shape(of: "slot.active")))
        #expect(HostValue.isValid("", as: HostValue.shape(of: "lock.holder")))
        #expect(HostValue.isValid("20261206T101500123Z-1a2b3c4d running", as: HostValue.shape(of: "slot.1")))
        #expect(HostValue.isValid(" stopped", as: HostValue.shape(of: "slot.2")))
        #expect(HostValue.isValid("anything at all; $(x)", as: HostValue.shape(of: "error")))
        // A role's process: a pid, or a container's name.
        #expect(HostValue.isValid("4242", as: HostValue.shape(of: "role.worker.ok")))
        #expect(HostValue.isValid("img-ab12cd-worker", as: HostValue.shape(of: "role.worker.ok")))
        #expect(!HostValue.isValid("x; rm -rf /", as: HostValue.shape(of: "role.worker.ok")))
    }

    /// The facts the traffic switch, the supervisor and triage print, as real hosts print them.
    @Test func resourceAndSwitchFactsHaveTheirShapes() {
        let good: [(String, String)] = [
            ("load.1", "0.15"), ("load.5", "12.00"), ("fds.max", "9223372036854775807"), ("fds.used", "1344"),
            ("mem.total_kb", "16314204"), ("mem.available_kb", "9120044"), ("disk.used_pct", "45"),
            ("inodes.used_pct", "3"), ("cpus", "8"), ("reused", "1"), ("proxy", "deferred"),
            ("proxy.reconciled", "8082"), ("standby.until", "8081 1765012345"),
            ("supervisor.retired", "shipit-demo"),
        ]
        for (key, value) in good {
            #expect(HostValue.isValid(value, as: HostValue.shape(of: key)), "\(key)=\(value)")
        }
        let bad: [(String, String)] = [
            ("load.1", "1e3"), ("load.1", "nan"), ("load.1", "0.1.2"), ("load.1", "."), ("load.1", "-"),
            ("load.5", "1."), ("fds.max", String(repeating: "9", count: 33)), ("mem.total_kb", "1.5"),
            ("disk.used_pct", "45%"), ("standby.until", "8081"), ("standby.until", "8081  1765012345"),
            ("standby.until", "8081 soon"), ("proxy", "running; id"), ("supervisor.retired", "a b"),
            ("reused", "yes"), ("proxy.reconciled", "$(id)"),
        ]
        for (key, value) in bad {
            #expect(!HostValue.isValid(value, as: HostValue.shape(of: key)), "\(key)=\(value)")
        }
    }

    /// The real thing: a host script (run by a real shell) that answers with hostile values. The
    /// parsed output holds none of them, and says which was refused.
    @Test func aRealShellsHostileAnswersAreRefusedByTheParser() throws {
        let answers: [(String, String)] = [
            ("digest", "sha256:../../x'; DROP TABLE t; --"), ("current", "../../../etc"),
            ("slot.active", "1;reboot"), ("lock.holder", "$(id)"), ("slot.1", "../x running"),
            ("release", "old copy"), ("error", "shown as is $(id)"),
        ]
        let script = answers.map { "printf '%s=%s\\n' \(ShellQuote.quote($0.0)) \(ShellQuote.quote($0.1))" }.joined(
            separator: "\n")
        let out = ScriptOutput(try Local.run(["sh", "-c", script]))
        for key in ["digest", "current", "slot.active", "lock.holder", "slot.1", "release"] {
            #expect(out.first(key) == nil, "\(key)")
        }
        #expect(out.first("error") == "shown as is $(id)")
        #expect(out.rejected.map(\.0) == ["digest", "current", "slot.active", "lock.holder", "slot.1", "release"])
        #expect(
            out.rejection?.hasPrefix("the host returned an invalid digest (sha256:../../x'; DROP TABLE t; --)") == true,
            "\(out.rejection ?? "nil")")
        // A stray directory in releases/ is left out of the list, not a reason to stop.
        #expect(ScriptOutput("release=old copy\nrelease=r1").rejection == nil)
        #expect(ScriptOutput("release=old copy\nrelease=r1").all("release") == ["r1"])
        // Control characters from the host are shown escaped, never raw on the operator's terminal.
        #expect(ScriptOutput("current=\u{1b}[2Jx").rejection == "the host returned an invalid current (\\u{1b}[2Jx)")
    }

    @Test func hostTextIsShownWithoutControlCharacters() {
        #expect(HostValue.printable("plain text, ünïcode, 漢字") == "plain text, ünïcode, 漢字")
        #expect(
            HostValue.printable("\u{1b}]0;pwned\u{7}\u{1b}[2J\r\tx\u{9b}y\u{7f}")
                == "\\u{1b}]0;pwned\\u{7}\\u{1b}[2J\\u{d} x\\u{9b}y\\u{7f}")
    }

    /// The image strategy names the release by the digest: a host whose digest was refused (or
    /// missing) stops the deploy with a message naming it, not a release named by the others'.
    @Test func theImageStrategyRefusesAHostWithoutAValidDigest() throws {
        let config = try DeployConfig.parse(
            yaml: "app: demo\nhosts: [h1, h2]\ndeploy_to: /srv/demo\n", directory: Local.tempDir("hostvalue"))
        let image = ImageStrategy(
            config: config, image: ImageSettings(name: "localhost/app", containerPort: 8080, port: 8080))
        let good = ScriptOutput("digest=\(Self.digest)")
        let resolved = try image.resolve(.imageTag("v1"), preflight: ["h1": good, "h2": good], hosts: ["h1", "h2"])
        #expect(resolved.imageDigest == Self.digest)
        #expect(resolved.id == "v1-ab12ab12ab12")
        let bad = ScriptOutput("digest=sha256:$(reboot)")
        #expect(throws: ShipitError.self) {
            try image.resolve(.imageTag("v1"), preflight: ["h1": good, "h2": bad], hosts: ["h1", "h2"])
        }
        do {
            _ = try image.resolve(.imageTag("v1"), preflight: ["h1": good, "h2": bad], hosts: ["h1", "h2"])
        } catch {
            #expect("\(error)".contains("h2: no valid image digest"), "\(error)")
        }
    }

    /// `shipit sync` pins the image by digest: the release gets the same id as the tag's deploy
    /// made, and a host handing back another digest stops it.
    @Test func aPinnedImageIsItsDigestUnderItsTag() throws {
        let config = try DeployConfig.parse(
            yaml: "app: demo\nhosts: [h1]\ndeploy_to: /srv/demo\n", directory: Local.tempDir("hostvalue"))
        let image = ImageStrategy(
            config: config, image: ImageSettings(name: "localhost/app", containerPort: 8080, port: 8080))
        let pinned = ReleaseInput.imageDigest(tag: "v1", digest: Self.digest, release: "v1-ab12ab12ab12")
        #expect(pinned.imagePullReference("localhost/app") == "localhost/app@\(Self.digest)")
        #expect(ReleaseInput.imageTag("v1").imagePullReference("localhost/app") == "localhost/app:v1")
        let resolved = try image.resolve(
            pinned, preflight: ["h1": ScriptOutput("digest=\(Self.digest)")], hosts: ["h1"])
        #expect(resolved.id == "v1-ab12ab12ab12")
        #expect(resolved.imageReference == "localhost/app@\(Self.digest)")
        let other = "sha256:" + String(repeating: "cd", count: 32)
        #expect(throws: ShipitError.self) {
            try image.resolve(pinned, preflight: ["h1": ScriptOutput("digest=\(other)")], hosts: ["h1"])
        }
        // The environment as it is now would make another release: refused, not deployed as a new one.
        let elsewhere = ReleaseInput.imageDigest(tag: "v1", digest: Self.digest, release: "v1-ab12ab12ab12-0123abcd")
        #expect(throws: ShipitError.self) {
            try image.resolve(elsewhere, preflight: ["h1": ScriptOutput("digest=\(Self.digest)")], hosts: ["h1"])
        }
        // The tag back from a release id, with and without an environment's identity.
        #expect(ImageStrategy.tag(ofRelease: "v1-ab12ab12ab12", digest: Self.digest) == "v1")
        #expect(ImageStrategy.tag(ofRelease: "v1-2-ab12ab12ab12-0123abcd", digest: Self.digest) == "v1-2")
        #expect(ImageStrategy.tag(ofRelease: "v1-ab12ab12ab12", digest: other) == nil)
        #expect(ImageStrategy.tag(ofRelease: "-ab12ab12ab12", digest: Self.digest) == nil)
    }
}
