import Foundation
import TestSupport
import Testing

@testable import ShipitCore

/// Every kind of host script shipit renders (symlink and image, with and without the traffic
/// switch in both proxy modes, with role processes; migrations, logs, triage, check, `exec
/// --release current`) checked by Debian's `shellcheck` as POSIX sh, and each shell function
/// defined once per script.
@Suite("every host script passes shellcheck", .serialized)
struct ShellcheckTests {
    static let lock = LockRequest(info: "holder=run-1\npid=1", waitSeconds: 1, staleHolders: ["run-0"])

    /// A config of `strategy` with a worker role on the second host, `traffic` (YAML or empty),
    /// migrations, a triage check and a log command.
    func config(strategy: String, traffic: String) throws -> DeployConfig {
        let dir = Local.tempDir("shellcheck")
        let image =
            strategy == "image"
            ? "strategy: image\nimage: {name: localhost/app, port: 8080, container_port: 8080, env: {A: 'b c'}}\n"
            : "start: sh start.sh\nstop: sh stop.sh\n"
        try """
        app: demo
        hosts:
          - {host: h1, roles: [web]}
          - {host: h2, roles: [web, worker]}
        deploy_to: /srv/demo
        \(image)health: {port: 8080}
        ssh: {config: none}
        roles:
          worker:
            cmd: sh worker.sh
            status: sh worker.sh status
        migrations: {dir: db/migrations, env_file: /etc/demo/db.env}
        triage: {checks: [{name: db, command: pg_isready}]}
        \(traffic)
        """.write(toFile: dir + "/shipit.yml", atomically: true, encoding: .utf8)
        return try DeployConfig.load(file: dir + "/shipit.yml")
    }

    func scripts(_ config: DeployConfig) throws -> [RemoteCommand] {
        let s = Strategies.make(config)
        let artifactDir = Local.tempDir("shellcheck-art")
        try "x".write(toFile: artifactDir + "/app", atomically: true, encoding: .utf8)
        var out: [RemoteCommand] = []
        for host in config.hosts {
            out += [
                s.preflight(Self.lock, deploying: nil, inventory: true, host: host),
                s.switchTo(releaseID: "r1", host: host, historyLine: "{}"),
                s.finish(previous: "r0", holder: "run-1", historyLine: "{}"),
                s.abandon(releaseID: "r1", keepForInspection: true, holder: "x", historyLine: nil, host: host),
                s.unlock(holder: "x", historyLine: nil), s.forceUnlock(),
                s.inventory(host: host), s.inspect(verify: true, historyLines: 5, host: host),
                s.retreat(releaseID: "r1", host: host, historyLine: "{}"),
                HostCheck(config: config).command(host: host, fix: true),
                TriageCommands(config: config).probe(host: host, historyLines: 3),
            ]
            if let c = s.roleCheck(host: host, deadline: 5, interval: 0.5) { out.append(c) }
            if let slots = s.slots {
                out += [
                    slots.warm(releaseID: "r1", host: host, slot: 8081, reuse: true),
                    slots.switchTraffic(releaseID: "r1", host: host, slot: 8081, historyLine: "{}"),
                ]
            }
            if let m = s.maintenance(host: host, on: true, message: "back soon", retryAfter: 60, historyLine: "{}") {
                out.append(m)
            }
            if let door = s.traffic?.frontDoor {
                let sv = Supervision(settings: config.supervisor, app: config.app, layout: config.layout)
                let pair = FrontDoor.CertificatePair(
                    name: "demo-0123456789ab", certBytes: 10, keyBytes: 10, stdin: Data())
                out += [
                    door.script(host: host, app: config.app, cert: pair, supervision: sv).command,
                    door.script(host: host, app: config.app, cert: nil, supervision: sv).command,
                    door.removeScript(host: host, supervision: sv).command,
                    door.challengeScript(host: host, token: "tok_en-1", answer: "tok_en-1.key").command,
                    door.challengeScript(host: host, token: "tok_en-1", answer: nil).command,
                    door.servedCertificateScript(host: host).command,
                ]
            }
        }
        let release: ResolvedRelease
        if config.strategy == .image {
            release = ResolvedRelease(
                id: "v1-0123456789ab", input: .imageTag("v1"), imageReference: "localhost/app@sha256:00",
                imageDigest: "sha256:00")
            out.append(s.preflight(Self.lock, deploying: .imageTag("v1"), inventory: false, host: "h1"))
        } else {
            let a = try Artifact.build(from: .directory(artifactDir), workDir: Local.tempDir("shellcheck-a"))
            release = ResolvedRelease(id: a.releaseID, input: .artifact(a))
            for warm in [false, true] {
                if let c = s.preflightCarrying(Self.lock, artifact: a, warm: warm, host: "h1") { out.append(c) }
            }
        }
        out.append(try s.stage(release, host: "h1").command)
        let env = ReleaseEnvironment([.init(name: "DATABASE_URL", value: "postgres://u:p@h/d", secret: true)])
        out.append(try #require(try ReleaseEnvFile.make(s, releaseID: release.id, environment: env)).command)
        let m = try #require(config.migrations)
        let migrations = MigrationCommands(layout: config.layout, settings: m)
        out += [
            migrations.status(),
            migrations.apply(releaseID: "r1", files: [], fromImage: config.strategy == .image),
            migrations.fetchFromImage(engine: ["podman"], reference: "localhost/app@sha256:00", releaseID: "r1"),
            LogScript(config: config).fetch(since: Date(), until: nil, grep: "err"),
            LogScript(config: config).follow(grep: nil),
        ]
        return out
    }

    /// `shipit exec --release current`'s wrapper around a command, on every host (in the release
    /// directory, or in the serving container).
    func execScripts(_ config: DeployConfig) throws -> [(String, String)] {
        try config.hosts.map {
            ("exec-current", try CurrentRelease.command("bin/console --version", host: $0, config: config))
        }
    }

    /// The launchers systemd units run (written by the pre-flight under `.shipit/units`).
    func launchers(_ config: DeployConfig) -> [(String, String)] {
        config.hosts.flatMap { h -> [(String, String)] in
            let files: [(name: String, text: String)]
            switch Strategies.make(config) {
            case let i as ImageStrategy: files = i.supervision.files(i.bootProcesses(h))
            case let s as SymlinkStrategy: files = s.supervision.files(s.processes(on: h))
            default: files = []
            }
            return files.filter { $0.name.hasSuffix(".start") }.map { ("launcher-\($0.name)", $0.text) }
        }
    }

    static let variants: [(String, String)] = [
        ("symlink", ""), ("image", ""),
        ("symlink", "traffic: {proxy: nginx, standby: 60}"),
        ("symlink", "traffic: {proxy: nginx}\nsupervisor: {mode: systemd, units: system, sudo: 'sudo -n'}"),
        ("image", "traffic: {proxy: nginx}"),
        ("symlink", "traffic: {proxy: nginx, hosts: [a.example.com, '*.b.example.com'], slots: [9101, 9102]}"),
        (
            "image",
            "traffic: {proxy: nginx, hosts: [a.example.com]}\nsupervisor: {mode: systemd, units: system, sudo: 'sudo -n'}"
        ),
        (
            "symlink",
            "traffic: {mode: system, upstream_file: /etc/nginx/u.conf, test: 'nginx -t', reload: 'nginx -s reload'}"
        ),
    ]

    /// One shellcheck run over all of a variant's scripts (a process per script would load the
    /// machine the rest of the suite shares), the variants one after the other.
    @Test(arguments: 0..<variants.count)
    func everyScriptPassesShellcheck(variant: Int) async throws {
        let (strategy, traffic) = Self.variants[variant]
        let config = try config(strategy: strategy, traffic: traffic)
        let commands = try scripts(config)
        #expect(commands.count > 20)
        let texts =
            commands.map { ($0.step.map(\.rawValue) ?? "none", $0.rendered) } + (try execScripts(config))
            + launchers(config)
        let dir = Local.tempDir("shellcheck-run")
        var files: [String] = []
        for (i, (name, text)) in texts.enumerated() {
            let file = dir + "/\(i)-\(name).sh"
            try text.write(toFile: file, atomically: true, encoding: .utf8)
            files.append(file)
        }
        // POSIX sh, warnings and errors. Left out: SC2034 (every script gets the whole layout as
        // variables, used or not), SC2154 (`getv NAME FILE` assigns through eval, which
        // shellcheck cannot follow), SC2120 (optional function arguments such as
        // `proxy_reload [wait]`).
        let (status, out) = try await LocalProcess.runStatusDetached(
            ["shellcheck", "--shell=sh", "--severity=warning", "--format=gcc", "--exclude=SC2034,SC2154,SC2120"]
                + files)
        #expect(status == 0, "\(strategy) \(traffic):\n\(out)")
        for c in commands {
            // Each function defined once (the parts of a composed script share the definitions).
            let defs = c.rendered.split(separator: "\n").compactMap { line -> String? in
                let t = line.trimmingCharacters(in: .whitespaces)
                guard let r = t.range(of: "() {"), t[..<r.lowerBound].allSatisfy({ $0.isLetter || $0 == "_" }) else {
                    return nil
                }
                return String(t[..<r.lowerBound])
            }
            #expect(Set(defs).count == defs.count, "\(c.step.map(\.rawValue) ?? "?") defines twice: \(defs)")
        }
    }

    func numbered(_ text: String) -> String {
        text.split(separator: "\n", omittingEmptySubsequences: false).enumerated()
            .map { "\($0.offset + 1): \($0.element)" }.joined(separator: "\n")
    }
}
