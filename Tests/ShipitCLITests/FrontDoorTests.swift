import Foundation
import ShipitCore
import TestSupport
import Testing

extension SystemdSuites {
    /// The host-wide front door (`traffic.hosts`) on the systemd hosts, each a machine of its own
    /// with its own deploy user's home: two apps behind one nginx per host, chosen by name on
    /// shared ports, over HTTPS with certificates from a throwaway CA.
    @Suite("front door: several apps behind one proxy per host, by name, over HTTPS")
    struct FrontDoorTests {
        let sd = SystemdHosts.current

        /// Two apps sharing the HTTP and HTTPS ports, each with its own slots and names.
        struct Pair {
            let a: DeployFixture
            let b: DeployFixture
            let nameA: String
            let nameB: String
            let httpPort: Int
            let httpsPort: Int
            let tag: String
            /// A's certificate file.
            let certA: String
        }

        func app(
            _ letter: String, tag: String, httpPort: Int, httpsPort: Int?, names: [String], tls: (String, String)?,
            ca: TestCA, extra: String = ""
        ) throws -> DeployFixture {
            let slots = DeployFixture.peekPort()
            var traffic = """
                traffic:
                  proxy: nginx
                  drain: 1
                  slots: [\(slots + 1), \(slots + 2)]
                  hosts: [\(names.joined(separator: ", "))]
                """
            if let httpsPort, let tls {
                traffic += "\n  https_port: \(httpsPort)\n  tls: {cert: \(tls.0), key: \(tls.1), ca: \(ca.caFile)}"
            }
            return try DeployFixture(
                hosts: sd.harness, targets: sd.hosts, healthDeadline: 5, port: httpPort,
                extraYAML: traffic + "\n" + extra, deployRoot: "/home/\(sd.user)", name: "fd\(letter)-\(tag)")
        }

        func pair(_ ca: TestCA) throws -> Pair {
            let tag = String(UUID().uuidString.prefix(6)).lowercased()
            let http = DeployFixture.peekPort()
            let https = http + 1
            let nameA = "a-\(tag).test"
            let nameB = "b-\(tag).test"
            let tlsA = try ca.issue([nameA, "www." + nameA], file: "a-\(tag)")
            let a = try app(
                "a", tag: tag, httpPort: http, httpsPort: https, names: [nameA, "www." + nameA], tls: tlsA, ca: ca)
            let b = try app(
                "b", tag: tag, httpPort: http, httpsPort: https, names: [nameB],
                tls: ca.issue([nameB], file: "b-\(tag)", rsa: true), ca: ca)
            return Pair(
                a: a, b: b, nameA: nameA, nameB: nameB, httpPort: http, httpsPort: https, tag: tag, certA: tlsA.cert)
        }

        /// GET / at `name` on `host` over HTTPS (the test CA trusted): the body's first line and the
        /// status, "000" when no HTTP answer came (no TLS handshake either).
        func get(_ host: String, _ port: Int, name: String, ca: TestCA, https: Bool = true) async -> String {
            let url = "\(https ? "https" : "http")://\(name):\(port)/"
            let out =
                (try? await Local.run([
                    "sh", "-c",
                    "curl -s --max-time 3 --cacert \"$1\" --resolve \"$2\" -w '\\n%{http_code}' \"$3\" || true",
                    "sh", ca.caFile, "\(name):\(port):\(host)", url,
                ])) ?? ""
            let lines = out.split(separator: "\n").map(String.init)
            guard let code = lines.last else { return "000" }
            return lines.count > 1 ? "\(lines[0]) \(code)" : code
        }

        func cleanUp(_ fixtures: [DeployFixture]) async {
            for f in fixtures {
                _ = try? await f.shipit(["proxy", "remove"])
                await f.cleanUp()
            }
        }

        @Test func twoAppsUnderLoadOverHTTPSLoseNothingAndNeverSeeEachOthersDeploys() async throws {
            let ca = try TestCA()
            let p = try pair(ca)
            try await withCleanup({ await cleanUp([p.a, p.b]) }) {
                let a1 = try await p.a.shipit(["deploy", "--from", p.a.release("v1")])
                #expect(a1.status == 0, "\(a1.stdout)\(a1.stderr)")
                #expect(a1.stdout.contains("front door started") || a1.stdout.contains("front door running"))
                let b4 = try await p.b.shipit(["deploy", "--from", p.b.release("v4")])
                #expect(b4.status == 0, "\(b4.stdout)\(b4.stderr)")
                for h in sd.hosts {
                    #expect(await get(h, p.httpsPort, name: p.nameA, ca: ca) == "hello from releases-example v1 200")
                    #expect(
                        await get(h, p.httpsPort, name: "www." + p.nameA, ca: ca)
                            == "hello from releases-example v1 200")
                    #expect(await get(h, p.httpsPort, name: p.nameB, ca: ca) == "hello from releases-example v4 200")
                    // Plain HTTP goes to HTTPS; a name no app has gets no answer of any app.
                    let redirect = try await Local.run([
                        "curl", "-s", "-o", "/dev/null", "-w", "%{http_code} %{redirect_url}", "--resolve",
                        "\(p.nameA):\(p.httpPort):\(h)", "http://\(p.nameA):\(p.httpPort)/x?y=1",
                    ])
                    #expect(redirect == "301 https://\(p.nameA):\(p.httpsPort)/x?y=1")
                    #expect(await get(h, p.httpPort, name: "nobody.test", ca: ca, https: false).hasSuffix(" 404"))
                    #expect(
                        !(await get(h, p.httpPort, name: "nobody.test", ca: ca, https: false)).contains(
                            "releases-example"))
                    #expect(await get(h, p.httpsPort, name: "nobody.test", ca: ca) == "000")
                }

                let loadA = try LoadGenerator(
                    targets: sd.hosts, port: p.httpsPort, threads: 2, bad: "v3", name: p.nameA, tlsCA: ca.caFile,
                    hosts: sd.harness)
                let loadB = try LoadGenerator(
                    targets: sd.hosts, port: p.httpsPort, threads: 2, bad: "v3", name: p.nameB, tlsCA: ca.caFile,
                    hosts: sd.harness)
                let a2 = try await p.a.shipit(["deploy", "--from", p.a.release("v2")])
                let b3 = try await p.b.shipit(["deploy", "--from", p.b.release("v3")])
                let back = try await p.a.shipit(["rollback"])
                let resA = try await loadA.finish()
                // A's maintenance reloads the shared proxy twice: B's clients see nothing of it.
                let mOn = try await p.a.shipit(["maintenance", "on"])
                let mOff = try await p.a.shipit(["maintenance", "off"])
                let resB = try await loadB.finish()
                #expect(a2.status == 0, "\(a2.stdout)\(a2.stderr)")
                #expect(b3.status == ShipitExit.failure.rawValue, "\(b3.stdout)")
                #expect(b3.stdout.contains("no host was switched"), "\(b3.stdout)")
                #expect(back.status == 0, "\(back.stdout)\(back.stderr)")
                #expect(mOn.status == 0 && mOff.status == 0, "\(mOn.stdout)\(mOff.stdout)")
                #expect(resA.failed == 0, "\(resA.errors)")
                #expect(resB.failed == 0, "\(resB.errors)")
                #expect(resA.bad == 0 && resB.bad == 0)
                // B's clients saw B alone, untouched by A's deploy and rollback; A's saw A's two.
                #expect(Set(resB.versions.keys) == ["v4"], "\(resB.versions)")
                #expect(Set(resA.versions.keys) == ["v1", "v2"], "\(resA.versions)")
                #expect(resA.requests > 200 && resB.requests > 200)
            }
        }

        @Test func aRequestStepInTheFrontDoorSplitsOneAppsRequestsAndLeavesTheOtherAlone() async throws {
            let ca = try TestCA()
            let tag = String(UUID().uuidString.prefix(6)).lowercased()
            let http = DeployFixture.peekPort()
            let nameA = "a-\(tag).test"
            let nameB = "b-\(tag).test"
            let a = try app(
                "a", tag: tag, httpPort: http, httpsPort: http + 1, names: [nameA],
                tls: try ca.issue([nameA], file: "a-\(tag)"), ca: ca,
                extra: """
                    rollout:
                      steps: [{requests: 20%}, "100%"]
                      bake: 1
                      interval: 0.5
                      pause_after: 1
                      gates: [{type: proxy, max_error_ratio: 0.01, min_requests: 5}]
                    """)
            let b = try app(
                "b", tag: tag, httpPort: http, httpsPort: http + 1, names: [nameB],
                tls: try ca.issue([nameB], file: "b-\(tag)"), ca: ca)
            try await withCleanup({ await cleanUp([a, b]) }) {
                #expect(try await a.shipit(["deploy", "--from", a.release("v1"), "--steps", "100%"]).status == 0)
                #expect(try await b.shipit(["deploy", "--from", b.release("v4")]).status == 0)
                func load(_ name: String, clients: Int = 0) throws -> LoadGenerator {
                    try LoadGenerator(
                        targets: sd.hosts, port: http + 1, threads: 2, name: name, tlsCA: ca.caFile, clients: clients,
                        hosts: sd.harness)
                }
                let steadyA = try load(nameA, clients: 10)
                let steadyB = try load(nameB)
                let a2 = try await a.shipit(["deploy", "--from", a.release("v2")])
                #expect(
                    a2.status == 0 && a2.stdout.contains("PAUSED after rollout step 1 of 2"),
                    "\(a2.stdout.suffix(3000))")
                let step = try LoadGenerator(
                    targets: sd.hosts, port: http + 1, threads: 2, seconds: 90, name: nameA, tlsCA: ca.caFile,
                    clients: 120, maxRequests: 1200, hosts: sd.harness)
                let during = try await step.finish(stop: false)
                let share = Double(during.versions["v2"] ?? 0) / Double(max(1, during.requests))
                // 720 clients (six threads of 120): 6 points are four standard deviations.
                #expect(during.requests >= 300 && abs(share - 0.2) <= 0.06, "\(during)")
                #expect(during.mixed == 0 && during.failed == 0, "\(during)")
                let promote = try await a.shipit(["rollout", "promote"])
                #expect(promote.status == 0, "\(promote.stdout.suffix(3000))")
                let ra = try await steadyA.finish()
                let rb = try await steadyB.finish()
                #expect(ra.failed == 0 && ra.back == 0, "\(ra)")
                #expect(rb.failed == 0 && Set(rb.versions.keys) == ["v4"], "\(rb)")
                for h in sd.hosts {
                    #expect(await get(h, http + 1, name: nameA, ca: ca) == "hello from releases-example v2 200")
                }
            }
        }

        @Test func aRenewedCertificateReplacesTheOldOnEveryHostWithNoRequestLost() async throws {
            let ca = try TestCA()
            let p = try pair(ca)
            try await withCleanup({ await cleanUp([p.a, p.b]) }) {
                #expect(try await p.a.shipit(["deploy", "--from", p.a.release("v1")]).status == 0)
                #expect(try await p.b.shipit(["deploy", "--from", p.b.release("v4")]).status == 0)
                let old = try ca.serial(of: p.certA)
                let load = try LoadGenerator(
                    targets: sd.hosts, port: p.httpsPort, threads: 2, name: p.nameA, tlsCA: ca.caFile,
                    hosts: sd.harness)
                // The same files, a new certificate in them (as a renewal writes them).
                try ca.issue([p.nameA, "www." + p.nameA], file: "a-\(p.tag)")
                let new = try ca.serial(of: p.certA)
                #expect(new != old)
                // Installed on one host only: certs, check and triage say the hosts differ.
                let one = try await p.a.shipit(["certs", "renew", "--hosts", sd.hosts[0]])
                #expect(one.status == 0, "\(one.stdout)\(one.stderr)")
                let shown = try await p.a.shipit(["certs"])
                #expect(shown.status == ShipitExit.failure.rawValue, "\(shown.stdout)")
                #expect(shown.stdout.contains("serves another certificate than 2 other host(s)"), "\(shown.stdout)")
                let check = try await p.a.shipit(["check"])
                #expect(check.stdout.contains("serves another certificate"), "\(check.stdout)")
                let triage = try await p.a.shipit(["triage", "--json"])
                #expect(triage.stdout.contains("\"check\" : \"certificate\""), "\(triage.stdout)")
                let again = try await p.a.shipit(["deploy", "--from", p.a.release("v1")])
                let r = try await load.finish()
                #expect(again.status == 0, "\(again.stdout)\(again.stderr)")
                #expect(again.stdout.contains("this app's servers written"), "\(again.stdout)")
                #expect(r.failed == 0, "\(r.errors)")
                #expect(r.requests > 100)
                for h in sd.hosts {
                    #expect(try ca.servedSerial(h, p.httpsPort, name: p.nameA) == new, "\(h)")
                    #expect(await get(h, p.httpsPort, name: p.nameB, ca: ca) == "hello from releases-example v4 200")
                }
                let settled = try await p.a.shipit(["certs"])
                #expect(settled.status == 0, "\(settled.stdout)")
                // Only the pair in use stays on the host.
                let certs = try await p.a.sh(sd.hosts[0], "ls ~/.shipit/front/certs/ | grep '^\(p.a.app)-' | wc -l")
                #expect(certs.trimmingCharacters(in: .whitespacesAndNewlines) == "2")
            }
        }

        @Test func afterARebootTheFrontDoorAndBothAppsComeBackByThemselves() async throws {
            let ca = try TestCA()
            let p = try pair(ca)
            try await withCleanup({ await cleanUp([p.a, p.b]) }) {
                #expect(try await p.a.shipit(["deploy", "--from", p.a.release("v1")]).status == 0)
                #expect(try await p.b.shipit(["deploy", "--from", p.b.release("v4")]).status == 0)
                let h = sd.hosts[0]
                // One unit for the host's front door, enabled; neither app has a proxy unit of its own.
                let wants = try await p.a.sh(
                    h, "ls ${XDG_CONFIG_HOME:-$HOME/.config}/systemd/user/default.target.wants/")
                #expect(wants.contains("shipit-front.service"), "\(wants)")
                #expect(!wants.contains("\(p.a.app)-proxy") && !wants.contains("\(p.b.app)-proxy"), "\(wants)")
                try await sd.reboot(h)
                let on = SupervisedHosts()
                let back = await on.secondsUntil(10) {
                    let a = await get(h, p.httpsPort, name: p.nameA, ca: ca)
                    let b = await get(h, p.httpsPort, name: p.nameB, ca: ca)
                    return a == "hello from releases-example v1 200" && b == "hello from releases-example v4 200"
                }
                #expect(back != nil, "\(h): the apps did not answer at their names within 10 s of sshd")
                // And the next deploy finds it running under its unit.
                let again = try await p.a.shipit(["deploy", "--from", p.a.release("v2")])
                #expect(again.status == 0, "\(again.stdout)\(again.stderr)")
                #expect(again.stdout.contains("front door running"), "\(again.stdout)")
            }
        }

        @Test func anAppWithItsOwnProxyMovesBehindTheRunningFrontDoorOnItsNextDeploy() async throws {
            let ca = try TestCA()
            let p = try pair(ca)
            let own = DeployFixture.peekPort()
            let slots = DeployFixture.peekPort()
            let c = try DeployFixture(
                hosts: sd.harness, targets: sd.hosts, healthDeadline: 5, port: own,
                extraYAML: "traffic: {proxy: nginx, drain: 1, slots: [\(slots + 1), \(slots + 2)]}",
                deployRoot: "/home/\(sd.user)", name: "fdm-\(p.tag)")
            try await withCleanup({ await cleanUp([p.b, c]) }) {
                // The front door runs (B), C has a proxy of its own on its own port.
                #expect(try await p.b.shipit(["deploy", "--from", p.b.release("v4")]).status == 0)
                #expect(try await c.shipit(["deploy", "--from", c.release("v1")]).status == 0)
                let on = SupervisedHosts()
                for h in sd.hosts { #expect(await on.get(h, own).contains("releases-example v1")) }
                let nameC = "c-\(p.tag).test"
                let tls = try ca.issue([nameC], file: "c-\(p.tag)")
                let yaml = try String(contentsOfFile: c.configFile, encoding: .utf8)
                    .replacingOccurrences(of: "  port: \(own)\n", with: "  port: \(p.httpPort)\n")
                    .replacingOccurrences(
                        of: "traffic: {proxy: nginx, drain: 1, slots: [\(slots + 1), \(slots + 2)]}",
                        with:
                            "traffic: {proxy: nginx, drain: 1, slots: [\(slots + 1), \(slots + 2)], hosts: [\(nameC)], https_port: \(p.httpsPort), tls: {cert: \(tls.cert), key: \(tls.key), ca: \(ca.caFile)}}"
                    )
                try yaml.write(toFile: c.configFile, atomically: true, encoding: .utf8)
                let moved = try await c.shipit(["deploy", "--from", c.release("v2")])
                #expect(moved.status == 0, "\(moved.stdout)\(moved.stderr)")
                #expect(moved.stdout.contains("the app's own proxy retired"), "\(moved.stdout)")
                for h in sd.hosts {
                    #expect(await get(h, p.httpsPort, name: nameC, ca: ca) == "hello from releases-example v2 200")
                    #expect(await get(h, p.httpsPort, name: p.nameB, ca: ca) == "hello from releases-example v4 200")
                    // Its own port is given up (its nginx quits once what it serves is done).
                    let gone = await on.secondsUntil(10) { await on.get(h, own).isEmpty }
                    #expect(gone != nil, "\(h): the app's own proxy still answers on \(own)")
                    let left = try await c.sh(h, "ls \(c.deployTo)/.shipit/proxy/")
                    #expect(!left.contains("nginx.conf"), "\(h): \(left)")
                }
                // A rollback stays behind the front door.
                let back = try await c.shipit(["rollback"])
                #expect(back.status == 0, "\(back.stdout)\(back.stderr)")
                for h in sd.hosts {
                    #expect(await get(h, p.httpsPort, name: nameC, ca: ca) == "hello from releases-example v1 200")
                }
            }
        }

        /// The move on the port the app's own proxy holds, under load: the own proxy's socket is
        /// shared with the front door's (SO_REUSEPORT) until the own proxy quits. The hosts have
        /// `net.ipv4.tcp_migrate_req = 1`, as docs/front-door.md asks for a move with nothing lost
        /// (without it, a connection queued at the closing socket is reset, and the deploy says so).
        @Test func anAppMovesBehindTheFrontDoorOnThePortItsOwnProxyHeldWithNoRequestLost() async throws {
            let tag = String(UUID().uuidString.prefix(6)).lowercased()
            let port = DeployFixture.peekPort()
            let slots = DeployFixture.peekPort()
            let name = "m-\(tag).test"
            let ownTraffic = "traffic: {proxy: nginx, drain: 1, slots: [\(slots + 1), \(slots + 2)]}"
            let c = try DeployFixture(
                hosts: sd.harness, targets: sd.hosts, healthDeadline: 5, port: port, extraYAML: ownTraffic,
                deployRoot: "/home/\(sd.user)", name: "fdp-\(tag)")
            func migrate(_ on: Bool) async throws {
                for h in sd.hosts { try await sd.script(["sysctl", h, "net.ipv4.tcp_migrate_req", on ? "1" : "0"]) }
            }
            try await withCleanup({
                try? await migrate(false)
                await cleanUp([c])
            }) {
                let first = try await c.shipit(["deploy", "--from", c.release("v1")])
                #expect(first.status == 0, "\(first.stdout)\(first.stderr)")
                try await migrate(true)
                var ownPids: [String: String] = [:]
                for h in sd.hosts {
                    ownPids[h] = try await c.sh(h, "cat \(c.deployTo)/.shipit/proxy/nginx.pid")
                        .trimmingCharacters(in: .whitespacesAndNewlines)
                }
                let yaml = try String(contentsOfFile: c.configFile, encoding: .utf8)
                    .replacingOccurrences(
                        of: ownTraffic,
                        with: "traffic: {proxy: nginx, drain: 1, slots: [\(slots + 1), \(slots + 2)], hosts: [\(name)]}"
                    )
                try yaml.write(toFile: c.configFile, atomically: true, encoding: .utf8)
                let load = try LoadGenerator(
                    targets: sd.hosts, port: port, threads: 3, bad: "v3", name: name, hosts: sd.harness)
                try await Task.sleep(for: .seconds(1))
                let moved = try await c.shipit(["deploy", "--from", c.release("v2")])
                try await Task.sleep(for: .seconds(1))
                let res = try await load.finish()
                #expect(moved.status == 0, "\(moved.stdout)\(moved.stderr)")
                #expect(moved.stdout.contains("the app's own proxy retired"), "\(moved.stdout)")
                #expect(!moved.stdout.contains("tcp_migrate_req=0"), "\(moved.stdout)")
                #expect(res.failed == 0, "\(res.errors)")
                #expect(Set(res.versions.keys) == ["v1", "v2"], "\(res.versions)")
                #expect(res.requests > 200)
                let ca = try TestCA()
                for h in sd.hosts {
                    #expect(
                        await get(h, port, name: name, ca: ca, https: false) == "hello from releases-example v2 200")
                    // The own proxy is gone; the port is the front door's alone.
                    let own = try #require(ownPids[h])
                    let gone = try await c.sh(h, "kill -0 \(own) 2>/dev/null && echo alive || echo gone")
                    #expect(gone.contains("gone"), "\(h): the own proxy \(own) still runs")
                    let left = try await c.sh(h, "ls \(c.deployTo)/.shipit/proxy/")
                    #expect(!left.contains("nginx.conf"), "\(h): \(left)")
                }
            }
        }

        /// `tls: acme` against Let's Encrypt's test CA (pebble, offline): the first deploy orders
        /// the certificate from the deployer, each name validated at another host (the CA's DNS
        /// says so), the same certificate installed everywhere; a second app with a certificate of
        /// its own; under load on both, A's deploy, B's refused release and A's rollback lose
        /// nothing; `certs renew` under load.
        @Test func anACMECertificateIsOrderedForTheFleetAndRenewedWithNoRequestLost() async throws {
            let tag = String(UUID().uuidString.prefix(6)).lowercased()
            let http = DeployFixture.peekPort()
            let https = http + 1
            let pebble = Local.tempDir("shipit-pebble")
            let script = sd.repoRoot + "/scripts/pebble.sh"
            _ = try await Local.run([script, "up", pebble, String(http)])
            _ = try await Local.run([script, "roots", pebble])
            let name = "acme-\(tag).test"
            // Each name at another host: the token must be on every one of them.
            _ = try await Local.run([script, "point", name, sd.hosts[2]])
            _ = try await Local.run([script, "point", "www." + name, sd.hosts[1]])
            let nameB = "acme-b-\(tag).test"
            _ = try await Local.run([script, "point", nameB, sd.hosts[0]])
            /// An app on the shared ports whose certificate is ordered from pebble (its account in `dir`).
            func acmeApp(_ app: String, names: [String], dir: String) throws -> DeployFixture {
                let slots = DeployFixture.peekPort()
                return try DeployFixture(
                    hosts: sd.harness, targets: sd.hosts, healthDeadline: 5, port: http,
                    extraYAML: """
                        traffic:
                          proxy: nginx
                          drain: 1
                          slots: [\(slots + 1), \(slots + 2)]
                          hosts: [\(names.joined(separator: ", "))]
                          https_port: \(https)
                          tls: acme
                          acme:
                            email: ops@example.com
                            directory: https://127.0.0.1:14000/dir
                            directory_ca: \(pebble)/tls-ca.pem
                            roots: \(pebble)/roots.pem
                            dir: \(pebble)/\(dir)
                        """, deployRoot: "/home/\(sd.user)", name: "\(app)-\(tag)")
            }
            let a = try acmeApp("fdacme", names: [name, "www." + name], dir: "acme")
            // A second app on the same hosts and ports, with a certificate of its own from the CA.
            let b = try acmeApp("fdacmeb", names: [nameB], dir: "acme-b")
            try await withCleanup({
                await cleanUp([a, b])
                _ = try? await Local.run([script, "down", pebble])
            }) {
                let d1 = try await a.shipit(["deploy", "--from", a.release("v1")])
                #expect(d1.status == 0, "\(d1.stdout)\(d1.stderr)")
                #expect(d1.stdout.contains("ordering a certificate for \(name), www.\(name)"), "\(d1.stdout)")
                #expect(d1.stdout.contains("waiting for its certificate"), "\(d1.stdout)")
                let roots = try TestCA(existing: pebble, caFile: pebble + "/roots.pem")
                var first: Set<String> = []
                for h in sd.hosts {
                    #expect(await get(h, https, name: name, ca: roots) == "hello from releases-example v1 200")
                    #expect(await get(h, https, name: "www." + name, ca: roots) == "hello from releases-example v1 200")
                    first.insert(try roots.servedSerial(h, https, name: name))
                }
                #expect(first.count == 1, "\(first)")
                let shown = try await a.shipit(["certs"])
                #expect(shown.status == 0, "\(shown.stdout)\(shown.stderr)")
                #expect(shown.stdout.contains("\(sd.hosts[0]): \(name), www.\(name) until"), "\(shown.stdout)")
                let b4 = try await b.shipit(["deploy", "--from", b.release("v4")])
                #expect(b4.status == 0, "\(b4.stdout)\(b4.stderr)")
                for h in sd.hosts {
                    #expect(await get(h, https, name: nameB, ca: roots) == "hello from releases-example v4 200")
                    #expect(try roots.servedSerial(h, https, name: nameB) != first.first)
                }
                // Under load on both, over HTTPS with the CA's certificates: A to v2 (a certificate
                // that is not due: no order), B's broken v3 refused on its idle slot, A rolled back.
                let loadA = try LoadGenerator(
                    targets: sd.hosts, port: https, threads: 2, bad: "v3", name: name, tlsCA: roots.caFile,
                    hosts: sd.harness)
                let loadB = try LoadGenerator(
                    targets: sd.hosts, port: https, threads: 2, bad: "v3", name: nameB, tlsCA: roots.caFile,
                    hosts: sd.harness)
                let d2 = try await a.shipit(["deploy", "--from", a.release("v2")])
                let b3 = try await b.shipit(["deploy", "--from", b.release("v3")])
                let back = try await a.shipit(["rollback"])
                let resA = try await loadA.finish()
                let resB = try await loadB.finish()
                #expect(d2.status == 0 && !d2.stdout.contains("ordering a certificate"), "\(d2.stdout)")
                #expect(b3.status == ShipitExit.failure.rawValue && b3.stdout.contains("no host was switched"))
                #expect(back.status == 0, "\(back.stdout)\(back.stderr)")
                #expect(resA.failed == 0 && resB.failed == 0, "\(resA.errors) \(resB.errors)")
                #expect(resA.bad == 0 && resB.bad == 0)
                #expect(Set(resB.versions.keys) == ["v4"], "\(resB.versions)")
                #expect(Set(resA.versions.keys) == ["v1", "v2"], "\(resA.versions)")
                #expect(resA.requests > 100 && resB.requests > 100)

                // A daily timer's run: not due, nothing ordered.
                let idle = try await a.shipit(["certs", "renew", "--if-due"])
                #expect(idle.status == 0 && idle.stdout.contains("is not due: no order"), "\(idle.stdout)")
                let load = try LoadGenerator(
                    targets: sd.hosts, port: https, threads: 2, name: name, tlsCA: roots.caFile, hosts: sd.harness)
                let renew = try await a.shipit(["certs", "renew"])
                let r = try await load.finish()
                #expect(renew.status == 0, "\(renew.stdout)\(renew.stderr)")
                #expect(r.failed == 0, "\(r.errors)")
                #expect(r.requests > 100)
                var second: Set<String> = []
                for h in sd.hosts { second.insert(try roots.servedSerial(h, https, name: name)) }
                #expect(second.count == 1 && second != first, "before \(first), after \(second)")
            }
        }

        @Test func anAppTheFrontDoorCannotTakeIsRefusedAtItsPreflightAndTheOthersServeOn() async throws {
            let ca = try TestCA()
            let p = try pair(ca)
            var others: [DeployFixture] = []
            try await withCleanup({ await cleanUp([p.a, p.b] + others) }) {
                #expect(try await p.a.shipit(["deploy", "--from", p.a.release("v1")]).status == 0)
                let tag = p.tag

                // A name nginx cannot hash with the others: `nginx -t` of the candidate fails.
                let long =
                    (0..<3).map { _ in String(repeating: "x", count: 60) }.joined(separator: ".") + ".\(tag).test"
                let c = try app(
                    "c", tag: tag, httpPort: p.httpPort, httpsPort: nil, names: ["c-\(tag).test", long],
                    tls: nil, ca: ca)
                others.append(c)
                let rc = try await c.shipit(["deploy", "--from", c.release("v2")])
                #expect(rc.status != 0)
                #expect(rc.stdout.contains("FAILED in preflight"), "\(rc.stdout)")
                #expect(rc.stdout.contains("does not pass nginx -t"), "\(rc.stdout)")

                // A's HTTP port as HTTPS: nginx would make it HTTPS for A too.
                let d = try app(
                    "d", tag: tag, httpPort: DeployFixture.peekPort(), httpsPort: p.httpPort,
                    names: ["d-\(tag).test"], tls: ca.issue(["d-\(tag).test"], file: "d-\(tag)"), ca: ca)
                others.append(d)
                let rd = try await d.shipit(["deploy", "--from", d.release("v2")])
                #expect(rd.status != 0)
                #expect(rd.stdout.contains("is a http port of this host's front door"), "\(rd.stdout)")

                // A name A already serves.
                let e = try app(
                    "e", tag: tag, httpPort: p.httpPort, httpsPort: p.httpsPort, names: ["www." + p.nameA],
                    tls: ca.issue(["www." + p.nameA], file: "e-\(tag)"), ca: ca)
                others.append(e)
                let re = try await e.shipit(["deploy", "--from", e.release("v2")])
                #expect(re.status != 0)
                #expect(re.stdout.contains("www.\(p.nameA) is served by another app"), "\(re.stdout)")

                // A port another process holds on one host: `nginx -t` does not see it, the reload
                // does (checked), and the app's servers are taken back out there.
                let held = DeployFixture.peekPort()
                let h0 = sd.hosts[0]
                let holder = try await p.a.sh(
                    h0,
                    "setsid perl -MIO::Socket::INET -e 'my $s = IO::Socket::INET->new(LocalAddr => q(\(h0):\(held)), Listen => 5, ReuseAddr => 1) or die; sleep 120' </dev/null >/dev/null 2>&1 & echo $!"
                ).trimmingCharacters(in: .whitespacesAndNewlines)
                let g = try app(
                    "g", tag: tag, httpPort: held, httpsPort: nil, names: ["g-\(tag).test"], tls: nil, ca: ca)
                others.append(g)
                let rg = try await g.shipit(["deploy", "--from", g.release("v2")])
                _ = try? await p.a.sh(h0, "kill \(holder)")
                #expect(rg.status != 0)
                #expect(rg.stdout.contains("\(h0) front door FAILED"), "\(rg.stdout)")
                #expect(rg.stdout.contains("did not take this app's servers (taken back out)"), "\(rg.stdout)")
                let onH0 = try await p.a.sh(h0, "ls ~/.shipit/front/apps/ ~/.shipit/front/ports/")
                #expect(!onH0.contains(g.app) && !onH0.contains(String(held)), "\(onH0)")
                // On the other hosts its servers went in (the run failed later there): out again.
                let gOut = try await g.shipit(["proxy", "remove"])
                #expect(gOut.stdout.contains("\(h0): not in the front door"), "\(gOut.stdout)")
                #expect(gOut.stdout.contains("\(sd.hosts[1]): removed from the front door"), "\(gOut.stdout)")

                for h in sd.hosts {
                    #expect(await get(h, p.httpsPort, name: p.nameA, ca: ca) == "hello from releases-example v1 200")
                    let files = try await p.a.sh(h, "ls ~/.shipit/front/apps/")
                    #expect(
                        !files.contains(c.app) && !files.contains(d.app) && !files.contains(e.app), "\(h): \(files)")
                }
                // What the proxy runs passes nginx -t where every refusal left it.
                let t = try await p.a.sh(
                    h0,
                    "/usr/sbin/nginx -t -q -p ~/.shipit/front/ -c ~/.shipit/front/nginx.conf -e /dev/null 2>&1; echo rc=$?"
                )
                #expect(t.contains("rc=0"), "\(t)")

                // B joins, then leaves: A serves throughout, B's name is no one's again.
                #expect(try await p.b.shipit(["deploy", "--from", p.b.release("v4")]).status == 0)
                let removed = try await p.b.shipit(["proxy", "remove"])
                #expect(removed.status == 0, "\(removed.stdout)\(removed.stderr)")
                #expect(removed.stdout.contains("removed from the front door"), "\(removed.stdout)")
                for h in sd.hosts {
                    #expect(await get(h, p.httpsPort, name: p.nameA, ca: ca) == "hello from releases-example v1 200")
                    #expect(await get(h, p.httpsPort, name: p.nameB, ca: ca) == "000")
                    let certs = try await p.a.sh(h, "ls ~/.shipit/front/certs/")
                    #expect(!certs.contains(p.b.app), "\(h): \(certs)")
                }
                // The last app out stops the front door.
                let last = try await p.a.shipit(["proxy", "remove"])
                #expect(last.stdout.contains("no app left, the front door stopped"), "\(last.stdout)")
            }
        }
    }
}
