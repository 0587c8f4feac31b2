import Foundation
import TestSupport
import Testing

@testable import ShipitCore

/// `traffic.hosts`, `tls` and the rest of the front door: what is refused before any host is
/// touched, the certificate pair's checks on the deployer, and the text of an app's servers.
@Suite("front door: config, certificate checks, the app's servers")
struct FrontDoorConfigTests {
    static let base = """
        app: demo
        hosts: [10.0.0.1]
        deploy_to: /srv/demo
        start: sh start.sh
        health: {port: 8080}
        """

    func load(_ traffic: String, dir: String = Local.tempDir("fdcfg")) throws -> DeployConfig {
        try DeployConfig.parse(yaml: Self.base + "\ntraffic: " + traffic, directory: dir)
    }

    func error(_ traffic: String, dir: String = Local.tempDir("fdcfg")) -> String {
        do {
            _ = try load(traffic, dir: dir)
            return "no error"
        } catch let e as ShipitError { return e.message } catch { return "\(error)" }
    }

    @Test func hostsPutTheAppBehindTheFrontDoorOnHealthPort() throws {
        let c = try load("{proxy: nginx, hosts: [A.Example.com, '*.b.example.com'], slots: [9101, 9102]}")
        let door = try #require(c.traffic?.frontDoor)
        #expect(door.names == ["a.example.com", "*.b.example.com"])
        #expect(door.httpPort == 8080 && door.publicPort == 8080)
        #expect(door.probeName == "a.example.com")
        #expect(c.health?.frontDoor == door)
        #expect(c.health?.publicURL(of: "10.0.0.1", path: "/up") == "http://a.example.com:8080/up at 10.0.0.1")
        // Without hosts: the app's own proxy, as before.
        #expect(try load("{proxy: nginx}").traffic?.frontDoor == nil)
    }

    @Test(arguments: [
        ("{hosts: [a.test], mode: system, upstream_file: /u, test: t, reload: r}", "needs the managed proxy"),
        ("{hosts: [a.test], http_port: 80}", "differs from health.port 8080"),
        ("{hosts: [a.test], https_port: 8443}", "is for HTTPS: give 'tls'"),
        ("{tls: {cert: a, key: b}}", "'tls' is for the host-wide proxy"),
        ("{hosts: [a.test, A.test]}", "a.test is listed twice"),
        ("{hosts: ['a b.test']}", "is not a host name"),
        ("{hosts: ['-a.test']}", "is not a host name"),
        ("{hosts: ['a.test;']}", "is not a host name"),
        ("{hosts: []}", "at least one host name"),
        ("{hosts: [a.test], tls: {cert: c.pem}}", "expected 'cert' and 'key'"),
        ("{hosts: [a.test], tls: {cert: missing.pem, key: missing.key}}", "cannot read"),
        ("{hosts: [a.test], hsts: yes-please}", "expected true, false or a max-age"),
        ("{hosts: [a.test], tls: acme}", "tls: acme needs 'acme'"),
        ("{hosts: [a.test], tls: letsencrypt}", "expected 'acme' or a mapping"),
        ("{hosts: ['*.a.test'], tls: acme, acme: {email: o@a.test}}", "a wildcard needs a DNS-01 challenge"),
        ("{hosts: [a.test], tls: acme, acme: {directory: 'https://ca.test/dir'}}", "missing required key 'email'"),
        ("{hosts: [a.test], tls: acme, acme: {email: nobody}}", "expected an email address"),
        ("{hosts: [a.test], tls: acme, acme: {email: o@a.test, directory: 'http://ca.test/dir'}}", "an https:// URL"),
        ("{hosts: [a.test], acme: {email: o@a.test}}", "is for tls: acme"),
    ])
    func badFrontDoorSettingsAreRefusedNamingTheField(traffic: String, says: String) {
        let e = error(traffic)
        #expect(e.contains(says), "\(e)")
        #expect(e.contains("traffic"), "\(e)")
    }

    @Test func anACMECertificateIsKeptOnTheDeployerAndOrderedWhenDue() throws {
        let dir = Local.tempDir("fdcfg")
        let c = try load(
            "{hosts: [a.test, www.a.test], tls: acme, acme: {email: ops@a.test, dir: acme, renew_days: 20}}", dir: dir)
        let door = try #require(c.traffic?.frontDoor)
        let acme = try #require(door.acme)
        #expect(acme.directory == "https://acme-v02.api.letsencrypt.org/directory")
        #expect(acme.stateDir == dir + "/acme" && acme.certName == "demo")
        #expect(door.tls?.cert == dir + "/acme/config/live/demo/fullchain.pem")
        let order = ACMEOrder(acme: acme, names: door.names, hook: ["/usr/bin/shipit", "certs", "challenge"])
        #expect(order.due() == "no certificate yet")
        let args = order.arguments(force: false)
        #expect(args.starts(with: ["certbot", "certonly", "--non-interactive"]))
        #expect(args.contains("--manual-auth-hook") && args.contains("/usr/bin/shipit certs challenge --cleanup"))
        #expect(Array(args.suffix(4)) == ["-d", "a.test", "-d", "www.a.test"])
        #expect(order.arguments(force: true).last == "--force-renewal")
        // A certificate in place: due when it does not cover a name, or expires within renew_days.
        let ca = try TestCA()
        let pair = try ca.issue(["a.test", "www.a.test"], file: "p")
        try FileManager.default.createDirectory(
            atPath: dir + "/acme/config/live/demo", withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: pair.cert, toPath: acme.chainFile)
        #expect(order.due() == nil)
        #expect(order.due(now: Date().addingTimeInterval(75 * 86400)) == "it expires in 14 day(s)")
        let more = ACMEOrder(acme: acme, names: door.names + ["b.test"], hook: [])
        #expect(more.due() == "the certificate does not cover b.test")
        // ACME tokens are what reaches a file name on the hosts.
        #expect(FrontDoor.isToken("e6ac_Gf-3YRL8M8WEqLWgTR333VIug6PqZWjeVMGX2E"))
        #expect(!FrontDoor.isToken("../x") && !FrontDoor.isToken("a b") && !FrontDoor.isToken(""))
    }

    @Test func certificateFindingsNameTheHostThatDiffersAndWhatIsDue() {
        let now = Date()
        func cert(_ fp: String, days: Double) -> Result<FrontDoorCerts.Served?, ShipitError> {
            .success(
                .init(
                    file: "x", notAfter: now.addingTimeInterval(days * 86400 + 60), fingerprint: fp, names: ["a.test"]))
        }
        let f = CertificateFindings.judge(
            [
                "h1": cert("aaaa", days: 60), "h2": cert("aaaa", days: 60), "h3": cert("bbbb", days: 90),
                "h4": .success(nil), "h5": .failure(ShipitError("timed out")),
            ], renewDays: 30, now: now)
        #expect(f["h1"] == nil && f["h2"] == nil)
        #expect(f["h3"]?.map(\.detail) == ["serves another certificate than 2 other host(s) (sha256 bbbb, not aaaa)"])
        #expect(f["h4"]?.first?.detail == "no certificate in the front door")
        #expect(f["h5"]?.first?.detail == "cannot read its certificate: timed out")
        let due = CertificateFindings.judge(
            ["h1": cert("aaaa", days: 10), "h2": cert("aaaa", days: -2)], renewDays: 30, now: now)
        #expect(due["h1"]?.first?.severity == .due)
        #expect(due["h1"]?.first?.detail.hasPrefix("its certificate expires in 10 day(s)") == true)
        #expect(due["h2"]?.first?.severity == .broken)
        #expect(due["h2"]?.first?.detail.hasPrefix("its certificate expired at") == true)
    }

    @Test func aCertificateMustCoverEveryNameBeValidAndMatchItsKey() throws {
        let ca = try TestCA()
        let ok = try ca.issue(["a.test", "*.b.test"], file: "ok")
        let rsa = try ca.issue(["a.test"], file: "rsa", rsa: true)
        let other = try ca.issue(["a.test"], file: "other")
        func check(_ pair: (cert: String, key: String), _ names: [String], now: Date = Date()) -> String {
            do {
                let f = try CertificatePairCheck.check(
                    cert: try Data(contentsOf: URL(fileURLWithPath: pair.cert)),
                    key: try Data(contentsOf: URL(fileURLWithPath: pair.key)), names: names, now: now)
                return "ok " + f.names.joined(separator: ",")
            } catch let e as ShipitError { return e.message } catch { return "\(error)" }
        }
        #expect(check(ok, ["a.test", "x.b.test"]) == "ok a.test,*.b.test")
        #expect(check(rsa, ["a.test"]) == "ok a.test")
        // A wildcard covers one label: not the domain itself, not two labels.
        #expect(check(ok, ["b.test"]).contains("does not cover b.test"))
        #expect(check(ok, ["y.x.b.test"]).contains("does not cover y.x.b.test"))
        #expect(check(ok, ["c.test"]).contains("it names a.test, *.b.test"))
        // Another key, of the same name.
        #expect(check((ok.cert, other.key), ["a.test"]).contains("traffic.tls.key: the key does not belong"))
        #expect(check((rsa.cert, ok.key), ["a.test"]).contains("traffic.tls.key: the key does not belong"))
        // 100 days from now, the 90-day certificate has expired.
        #expect(check(ok, ["a.test"], now: Date().addingTimeInterval(100 * 86400)).contains("expired at"))
        // Not PEM at all, either side.
        #expect(check((ok.key, ok.key), ["a.test"]).contains("traffic.tls.cert"))
        #expect(check((ok.cert, ok.cert), ["a.test"]).contains("traffic.tls.key: not a PEM private key"))
    }

    @Test func theDeployChecksThePairBeforeAnyHostIsTouched() async throws {
        let ca = try TestCA()
        let pair = try ca.issue(["other.test"], file: "p")
        let c = try load("{hosts: [a.test], tls: {cert: \(pair.cert), key: \(pair.key)}}")
        var message = "no error"
        do { _ = try await c.resolvingEnvironment(environment: [:]) } catch { message = error.message }
        #expect(message.contains("traffic.tls.cert: the certificate does not cover a.test"), "\(message)")
    }

    /// The HTTPS smoke test connects from the deployer: hosts behind a jump host are refused with
    /// TLS from files and with an ordered certificate alike, before any host is touched.
    @Test(arguments: ["files", "acme"])
    func tlsBehindAJumpHostIsRefusedBeforeAnyHostIsTouched(kind: String) async throws {
        let ca = try TestCA()
        let pair = try ca.issue(["a.test"], file: "j")
        let tls =
            kind == "files"
            ? "tls: {cert: \(pair.cert), key: \(pair.key)}"
            : "tls: acme, acme: {email: ops@a.test, directory: 'https://acme.example/dir'}"
        let c = try DeployConfig.parse(
            yaml: Self.base + "\nssh: {proxy_jump: jump.example}\ntraffic: {hosts: [a.test], \(tls)}",
            directory: Local.tempDir("fdcfg"))
        var message = "no error"
        do { _ = try await c.resolvingEnvironment(environment: [:]) } catch { message = error.message }
        #expect(message.contains("traffic.tls: 10.0.0.1 is reached through a jump host"), "\(message)")
    }

    @Test func theAppsServersAreChosenByNameWithTLSAndARedirect() throws {
        let dir = Local.tempDir("fdcfg")
        try "x".write(toFile: dir + "/c.pem", atomically: true, encoding: .utf8)
        try "x".write(toFile: dir + "/k.pem", atomically: true, encoding: .utf8)
        let c = try load(
            "{hosts: [a.test, www.a.test], slots: [9101, 9102], https_port: 8443, hsts: 600, tls: {cert: c.pem, key: k.pem}}",
            dir: dir)
        let door = try #require(Strategies.make(c).traffic?.frontDoor)
        let conf = door.appConf(host: "10.0.0.1", app: "demo", cert: "demo-0123456789ab")
        let lines = conf.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }
        #expect(lines[0] == "# shipit: /srv/demo")
        #expect(lines[1] == "# names: a.test www.a.test")
        #expect(lines.filter { $0 == "server_name a.test www.a.test;" }.count == 2)
        #expect(lines.contains("listen 0.0.0.0:8080;"))
        #expect(lines.contains("listen 0.0.0.0:8443 ssl;"))
        #expect(lines.contains("location / { return 301 https://$host:8443$request_uri; }"))
        #expect(lines.contains("ssl_certificate certs/demo-0123456789ab.crt;"))
        #expect(lines.contains("add_header Strict-Transport-Security \"max-age=600\" always;"))
        #expect(lines.contains("listen unix:/srv/demo/.shipit/proxy/front/slot-9101.sock;"))
        #expect(lines.contains("proxy_pass http://unix:/srv/demo/.shipit/proxy/front/active.sock:;"))
        #expect(lines.contains("proxy_set_header X-Forwarded-Proto https;"))
        #expect(door.listens(host: "10.0.0.1") == ["0.0.0.0:8080/http", "0.0.0.0:8443/https"])
        // The app's own proxy is not among its units: the front door has its own.
        let processes = (Strategies.make(c) as? SymlinkStrategy)?.processes(on: "10.0.0.1") ?? []
        #expect(!processes.contains { if case .proxy = $0 { return true } else { return false } })
    }
}
