import Foundation
import ShipitCore
import TestSupport
import Testing

/// Hostile input (issue 9, case 8): shell metacharacters, quotes, spaces, newlines and `../` in
/// every name that reaches a host; 50 MB of stderr; invalid UTF-8; a YAML bomb and a huge config.
/// Names are refused before any host is touched, with the field named (exit 2); what is only data
/// (file names, local paths, output) passes through intact and harmless.
@Suite("faults: hostile input")
struct FaultHostileInputTests {
    let bin = ShipitBinary()
    let hosts = TestHosts.current

    /// A command that would leave a trace if any shell ever ran it.
    static func trap(_ tag: String) -> String { "/tmp/shipit-pwned-\(tag)" }

    /// A valid config for the shared hosts, with `override` (top-level YAML lines) replacing keys.
    func config(_ override: [String: String], deployTo: String) throws -> String {
        var keys: [(String, String)] = [
            ("app", "hostile"), ("hosts", "[\(hosts.hosts[0])]"), ("deploy_to", deployTo), ("start", "sh start.sh"),
            ("ssh", "{user: \(hosts.user), identity: \(hosts.identity), known_hosts: \(hosts.knownHosts)}"),
        ]
        for (k, v) in override {
            if let i = keys.firstIndex(where: { $0.0 == k }) { keys[i].1 = v } else { keys.append((k, v)) }
        }
        let dir = Local.tempDir("hostile")
        try keys.map { "\($0.0): \($0.1)" }.joined(separator: "\n").write(
            toFile: dir + "/shipit.yml", atomically: true, encoding: .utf8)
        return dir + "/shipit.yml"
    }

    static let refusedConfigs: [(field: String, key: String, value: String)] = [
        ("hosts", "hosts", "['127.0.0.11;touch \(trap("h1"))']"),
        ("hosts", "hosts", "['$(touch \(trap("h2")))']"),
        ("hosts", "hosts", "['127.0.0.11 127.0.0.12']"),
        ("hosts", "hosts", "[\"it's\"]"),
        ("hosts", "hosts", "[\"a\\nb\"]"),
        ("hosts", "hosts", "['../etc']"),
        ("deploy_to", "deploy_to", "'/srv/x;touch \(trap("d1"))'"),
        ("deploy_to", "deploy_to", "/srv/../etc"),
        ("deploy_to", "deploy_to", "'/srv/a b'"),
        ("deploy_to", "deploy_to", "'/srv/$(touch \(trap("d2")))'"),
        ("deploy_to", "deploy_to", "\"/srv/x\\n/y\""),
        ("app", "app", "\"a'b\""),
        ("app", "app", "'$(id)'"),
        ("app", "app", "../x"),
        ("stage", "stage", "'a;b'"),
        ("shared", "shared", "['../../etc/passwd']"),
        ("shared", "shared", "['log;rm -rf ~']"),
        ("keep_releases", "keep_releases", "'3; rm -rf /'"),
        ("health.port", "health", "{port: 99999}"),
    ]

    @Test(arguments: refusedConfigs.indices)
    func aHostileConfigValueIsRefusedNamingTheFieldBeforeAnyHostIsTouched(_ i: Int) async throws {
        let c = Self.refusedConfigs[i]
        let deployTo = "/srv/hostile-\(UUID().uuidString.prefix(8).lowercased())"
        let file = try config([c.key: c.value], deployTo: deployTo)
        let r = try await bin.run(["deploy", "--config", file, "--from", hosts.repoRoot + "/releases-example/v1"])
        #expect(r.status == ShipitExit.usage.rawValue, "\(c.value): \(r.stdout) \(r.stderr)")
        #expect(r.stderr.contains(c.field), "\(c.value): \(r.stderr)")
        let s = try await hosts.connect(to: hosts.hosts[0])
        let touched = try await s.exec("ls -d \(deployTo) /tmp/shipit-pwned-* 2>/dev/null || true").stdoutText
        await s.close()
        #expect(touched == "")
        #expect(
            !FileManager.default.fileExists(atPath: Self.trap("h1"))
                && !FileManager.default.fileExists(atPath: Self.trap("d1")))
    }

    /// A release directory whose `config` is a symbolic link to a directory outside it, with
    /// `shared: [config/database.yml]`: refused by the deployer, naming the shared path and the
    /// link, before any host is touched (the host's staging script would refuse it too).
    @Test func aSharedPathThroughASymlinkOfTheReleaseIsRefusedBeforeAnyHost() async throws {
        let deployTo = "/srv/hostile-\(UUID().uuidString.prefix(8).lowercased())"
        let file = try config(["shared": "[config/database.yml]"], deployTo: deployTo)
        let release = Local.tempDir("hostile-release")
        try FileManager.default.copyItem(atPath: hosts.repoRoot + "/releases-example/v1", toPath: release + "/app")
        try FileManager.default.createSymbolicLink(
            atPath: release + "/app/config", withDestinationPath: "/srv/other/config")
        let r = try await bin.run(["deploy", "--config", file, "--from", release + "/app"])
        #expect(r.status == ShipitExit.usage.rawValue, "\(r.stdout) \(r.stderr)")
        #expect(
            r.stderr.contains(
                "shared: config/database.yml: 'config' is a symbolic link in the artifact (to /srv/other/config)"),
            "\(r.stderr)")
        let s = try await hosts.connect(to: hosts.hosts[0])
        let touched = try await s.exec("ls -d \(deployTo) 2>/dev/null || true").stdoutText
        await s.close()
        #expect(touched == "")
    }

    /// Text from a host reaches the operator's terminal: a lock file on the host whose lines hold
    /// terminal escape sequences (retitle, clear screen) is shown with them escaped, not played.
    @Test func terminalEscapesFromAHostAreShownEscaped() async throws {
        let f = try DeployFixture(targets: [hosts.hosts[0]])
        try await withCleanup({ await f.cleanUp() }) {
            let h = f.targets[0]
            _ = try await f.sh(
                h,
                "mkdir -p \(f.deployTo)/.shipit && printf 'holder=other-run\\nby=\\033]0;pwned\\007\\033[2Jmallory\\n' > \(f.deployTo)/.shipit/lock"
            )
            let r = try await bin.run(["deploy", "--config", f.configFile, "--from", f.release("v1")])
            #expect(r.status == ShipitExit.locked.rawValue, "\(r.stdout)")
            #expect(
                !r.stdout.contains("\u{1B}") && !r.stderr.contains("\u{1B}") && !r.stdout.contains("\u{07}"),
                "\(r.stdout.debugDescription)")
            #expect(r.stdout.contains("by=\\u{1b}]0;pwned\\u{7}\\u{1b}[2Jmallory"), "\(r.stdout)")
            // The ledger keeps the same escaped text.
            let ledger = try SQLiteLedger(path: f.dir + "/.shipit/ledger.sqlite")
            let attempt = try #require(try await ledger.attempts(LedgerQuery()).last)
            let steps = try await ledger.steps(attemptID: attempt.id).filter { $0.step == "preflight" }
            #expect(steps.allSatisfy { !($0.message ?? "").contains("\u{1B}") } && !steps.isEmpty, "\(steps)")
        }
    }

    @Test func hostileCommandLineValuesAreRefused() async throws {
        let f = try DeployFixture()
        try await withCleanup({ await f.cleanUp() }) {
            let badHosts = try await bin.run([
                "deploy", "--config", f.configFile, "--from", f.release("v1"), "--hosts",
                "\(hosts.hosts[0]);touch \(Self.trap("c1"))",
            ])
            #expect(badHosts.status == ShipitExit.usage.rawValue)
            #expect(badHosts.stderr.contains("--hosts"))
            for to in ["v1;touch \(Self.trap("c2"))", "$(touch \(Self.trap("c3")))", "../../etc", "a b", "x\ny"] {
                let r = try await bin.run(["rollback", "--config", f.configFile, "--to", to])
                #expect(r.status == ShipitExit.usage.rawValue, "\(to)")
                #expect(r.stderr.contains("--to"), "\(to): \(r.stderr)")
            }
            for h in f.targets {
                #expect(try await f.sh(h, "ls -d \(f.deployTo) /tmp/shipit-pwned-* 2>/dev/null || true") == "")
            }
        }
    }

    @Test func hostileFileNamesLocalPathsAndHookDirsAreJustData() async throws {
        // A local source dir, a hooks dir and release files whose names are shell syntax (a shell
        // that ran any of them would create `pwned-f1` in its working directory).
        let weird = "a b;$(touch pwned-f1)'q\"`touch pwned-f1`"
        let parent = Local.tempDir("hostile-src")
        let src = parent + "/" + weird
        try await Local.run(["cp", "-a", hosts.repoRoot + "/releases-example/v1", src])
        try "x".write(toFile: src + "/" + weird, atomically: true, encoding: .utf8)
        try "y".write(toFile: src + "/line\nbreak.txt", atomically: true, encoding: .utf8)
        let f = try DeployFixture()
        try await withCleanup({ await f.cleanUp() }) {
            let hooks = f.dir + "/hooks " + weird
            try FileManager.default.createDirectory(atPath: hooks, withIntermediateDirectories: true)
            let marker = f.dir + "/hook-ran"
            try "#!/bin/sh\ntouch '\(marker)'\n".write(toFile: hooks + "/pre-flight", atomically: true, encoding: .utf8)
            try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: hooks + "/pre-flight")
            var yaml = try String(contentsOfFile: f.configFile, encoding: .utf8)
            yaml = yaml.replacingOccurrences(
                of: "hooks: \(f.dir)/hooks", with: "hooks: '\(hooks.replacingOccurrences(of: "'", with: "''"))'")
            try yaml.write(toFile: f.configFile, atomically: true, encoding: .utf8)

            let r = try await bin.run(["deploy", "--config", f.configFile, "--from", src], cwd: parent)
            #expect(r.status == 0, "\(r.stdout)\(r.stderr)")
            #expect(FileManager.default.fileExists(atPath: marker))
            for h in f.targets {
                #expect(try await f.served(h) == "hello from releases-example v1")
                #expect(try await f.sh(h, "cat \(f.deployTo)/current/\(ShellQuote.quote(weird))") == "x")
                #expect(try await f.sh(h, "find ~ \(f.deployTo) -name pwned-f1 2>/dev/null") == "")
            }
            #expect(try await bin.run(["verify", "--config", f.configFile]).status == 0)
            let local = try await Local.run(["find", parent, f.dir, "-name", "pwned-f1"])
            #expect(local == "")
        }
    }

    /// Peak RSS (KiB) and output of a shipit run, measured by /usr/bin/time.
    func measured(_ args: [String]) async throws -> (ShipitBinary.Run, Int) {
        let out = Local.tempDir("rss") + "/rss"
        let r = try await ShipitBinary(path: "/usr/bin/time").run(["-f", "%M", "-o", out, bin.path] + args)
        let kb =
            Int((try String(contentsOfFile: out, encoding: .utf8)).split(separator: "\n").last.map(String.init) ?? "")
            ?? -1
        return (r, kb)
    }

    @Test func fiftyMegabytesOfStderrWithoutANewlineCostBoundedMemory() async throws {
        let noisy = "head -c 52428800 /dev/zero | tr '\\0' x >&2; printf '\\377\\376 not utf-8\\n'; echo done"
        let (r, kb) = try await measured([
            "exec", "--hosts", hosts.hosts[0], "--user", hosts.user, "--identity", hosts.identity,
            "--known-hosts", hosts.knownHosts, "--", noisy,
        ])
        #expect(r.status == 0)
        #expect(r.stdout.hasSuffix("| done\n"))
        #expect(r.stdout.contains("\u{FFFD}\u{FFFD} not utf-8"))
        #expect(r.stderr.utf8.count > 52_428_800)  // nothing lost...
        #expect(kb > 0 && kb < 100 * 1024, "peak RSS \(kb) KiB")  // ...and nothing held whole

        // The same noise from a deploy hook: the deploy goes on, the hook's tail is kept.
        let f = try DeployFixture()
        try await withCleanup({ await f.cleanUp() }) {
            try f.writeHook("pre-flight", noisy + "\n")
            let (d, dkb) = try await measured(["deploy", "--config", f.configFile, "--from", f.release("v1")])
            #expect(d.status == 0, "\(d.stdout.suffix(2000))")
            #expect(d.stdout.contains("earlier output not kept"))
            #expect(dkb > 0 && dkb < 100 * 1024, "peak RSS \(dkb) KiB")
        }
    }

    /// Terminal control from a host (issue 28, item 5): a retitle (OSC … BEL), a screen clear, a
    /// cursor-up and a carriage return that would overwrite shipit's lines, a C1 CSI and a bidi
    /// override. In human mode not one of them reaches stdout or stderr raw, each is shown; with
    /// --json every line decodes to exactly what the host printed.
    @Test func terminalEscapesFromAHostAreShownNotObeyed() async throws {
        let printed =
            "title \u{1B}]0;pwned\u{07} clear \u{1B}[2J up \u{1B}[1A\u{1B}[K cr\rFORGED c1 \u{9B}31m bidi \u{202E}gpj.exe tab\tend"
        let script =
            "printf 'title \\033]0;pwned\\007 clear \\033[2J up \\033[1A\\033[K cr\\rFORGED c1 \\302\\23331m bidi \\342\\200\\256gpj.exe tab\\tend\\n'; "
            + "printf 'err \\033[31mred\\r\\n' >&2; exit 3"
        let base = [
            "exec", "--hosts", hosts.hosts[0], "--user", hosts.user, "--identity", hosts.identity, "--known-hosts",
            hosts.knownHosts,
        ]
        func isControl(_ s: Unicode.Scalar) -> Bool { s != "\n" && s != "\t" && TerminalText.needsEscape(s) }

        let r = try await bin.run(base + ["--", script])
        #expect(r.status == ShipitExit.failure.rawValue, "\(r.stderr)")
        #expect(!r.stdout.unicodeScalars.contains(where: isControl), "\(r.stdout.debugDescription)")
        #expect(!r.stderr.unicodeScalars.contains(where: isControl), "\(r.stderr.debugDescription)")
        #expect(
            r.stdout.contains(
                "| title \\x1b]0;pwned\\x07 clear \\x1b[2J up \\x1b[1A\\x1b[K cr\\rFORGED c1 \\x9b31m bidi \\u{202e}gpj.exe tab\tend\n"
            ),
            "\(r.stdout.debugDescription)")
        #expect(r.stderr.contains("! err \\x1b[31mred\n"), "\(r.stderr.debugDescription)")

        let j = try await bin.run(base + ["--json", "--", script])
        #expect(j.status == ShipitExit.failure.rawValue)
        #expect(!j.stdout.unicodeScalars.contains(where: isControl), "\(j.stdout.debugDescription)")
        #expect(j.stdout.contains(#"title \u001b]0;pwned\u0007 clear \u001b[2J"#), "\(j.stdout)")
        var lines: [String: String] = [:]
        for line in j.stdout.split(separator: "\n") {
            let o = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any], "\(line)")
            if let stream = o["stream"] as? String { lines[stream] = o["line"] as? String }
        }
        #expect(lines["stdout"] == printed)
        #expect(lines["stderr"] == "err \u{1B}[31mred")  // the line ends at its \r\n
    }

    /// Secrets a command prints (issue 28, item 6): `exec` output is redacted, in both modes,
    /// a private key block whole although it arrives line by line.
    @Test func execOutputIsRedacted() async throws {
        let script =
            "echo STRIPE_KEY=sk_live_51HxYzAbCdEfGhIjKl; echo 'db postgres://u:p@ss@db/x'; "
            + "printf -- '-----BEGIN OPENSSH PRIVATE KEY-----\\nb3BlbnNzaC1rZXktdjEAAAAA\\n-----END OPENSSH PRIVATE KEY-----\\n'; "
            + "echo 'hook https://hooks.slack.com/services/T0001/B0002/XXXXyyyyZZZZ' >&2; echo done"
        let base = [
            "exec", "--hosts", hosts.hosts[0], "--user", hosts.user, "--identity", hosts.identity, "--known-hosts",
            hosts.knownHosts,
        ]
        for json in [false, true] {
            let r = try await bin.run(base + (json ? ["--json"] : []) + ["--", script])
            #expect(r.status == 0, "\(r.stderr)")
            let all = r.stdout + r.stderr
            #expect(all.contains("done"))
            for secret in ["sk_live_51", "p@ss", "ss@db", "b3BlbnNzaC1rZXktdjEAAAAA", "XXXXyyyyZZZZ"] {
                #expect(!all.contains(secret), "\(secret): \(all)")
            }
            #expect(all.contains("STRIPE_KEY=***") && all.contains("postgres://u:***@db/x"), "\(all)")
        }
    }

    @Test func invalidUTF8FromTheHostsKeepsJSONAndTheLedgerValid() async throws {
        let f = try DeployFixture()
        try await withCleanup({ await f.cleanUp() }) {
            #expect(try await bin.run(["deploy", "--config", f.configFile, "--from", f.release("v1")]).status == 0)
            let src = Local.tempDir("badutf8")
            try await Local.run(["cp", "-a", f.release("v2") + "/.", src])
            // The start command prints invalid UTF-8, then fails: its output tail goes to the ledger.
            try "printf 'bad \\377\\376 bytes\\n' >&2; exit 3\n".write(
                toFile: src + "/start.sh", atomically: true, encoding: .utf8)
            try f.writeHook("pre-flight", "printf 'hook \\377 says hi\\n'\n")
            let r = try await bin.run(["deploy", "--config", f.configFile, "--from", src, "--json"])
            #expect(r.status == ShipitExit.rolledBack.rawValue, "\(r.stdout)")
            let lines = r.stdout.split(separator: "\n")
            #expect(lines.count > 10)
            for line in lines { #expect((try? JSONSerialization.jsonObject(with: Data(line.utf8))) != nil, "\(line)") }
            #expect(r.stdout.contains("hook \u{FFFD} says hi"))
            let t = try ShipitBinary.decode(
                Timeline.self, try await bin.run(["changes", "--config", f.configFile, "--json", "--no-hosts"]).stdout)
            let e = try #require(t.entries.last)
            #expect(e.error?.contains("start command exited 3") == true)
            let ledger = try SQLiteLedger(path: f.dir + "/.shipit/ledger.sqlite")
            let switches = try await ledger.steps(attemptID: e.attempt).filter {
                $0.step == "switch" && $0.status == "failed"
            }
            #expect(switches.count == f.targets.count)
            #expect(
                switches.allSatisfy { $0.stderrTail?.contains("bad \u{FFFD}\u{FFFD} bytes") == true },
                "\(switches.map(\.stderrTail))")
            for h in f.targets { #expect(try await f.served(h) == "hello from releases-example v1") }
        }
    }

    @Test func aYAMLBombAndAHugeConfigAreRefusedQuickly() async throws {
        let dir = Local.tempDir("bomb")
        var bomb = "a: &a [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]\n"
        for i in 1...9 {
            bomb +=
                "\(Character(UnicodeScalar(97 + i)!)): &\(Character(UnicodeScalar(97 + i)!)) ["
                + Array(repeating: "*\(Character(UnicodeScalar(96 + i)!))", count: 9).joined(separator: ",") + "]\n"
        }
        bomb += "app: x\nhosts: [\(hosts.hosts[0])]\ndeploy_to: /srv/bomb\n"
        try bomb.write(toFile: dir + "/bomb.yml", atomically: true, encoding: .utf8)
        let start = Date()
        let r = try await bin.run([
            "deploy", "--config", dir + "/bomb.yml", "--from", hosts.repoRoot + "/releases-example/v1",
        ])
        #expect(r.status == ShipitExit.usage.rawValue, "\(r.stderr)")
        // A generous bound: expanding it would take minutes and gigabytes.
        #expect(Date().timeIntervalSince(start) < 20)

        let huge =
            "app: x\nhosts: [\(hosts.hosts[0])]\ndeploy_to: /srv/huge\n# " + String(repeating: "x", count: 2 << 20)
            + "\n"
        try huge.write(toFile: dir + "/huge.yml", atomically: true, encoding: .utf8)
        let h = try await bin.run([
            "deploy", "--config", dir + "/huge.yml", "--from", hosts.repoRoot + "/releases-example/v1",
        ])
        #expect(h.status == ShipitExit.usage.rawValue)
        #expect(h.stderr.contains("refused"))
    }
}
