import Foundation
import SSH
import TestSupport
import Testing

@testable import ShipitCore

/// Issue 28, item 12: one rule for host names and addresses, and IPv6 in brackets wherever a
/// port follows it.
@Suite("host addresses: one rule, IPv6 bracketed before a port")
struct HostAddressTests {
    static let accepted: [(String, String, HostAddress.Kind)] = [
        ("web-1.example.com", "web-1.example.com", .name), ("web_1", "web_1", .name), ("localhost", "localhost", .name),
        ("127.0.0.11", "127.0.0.11", .ipv4), ("0.0.0.0", "0.0.0.0", .ipv4),
        ("255.255.255.255", "255.255.255.255", .ipv4),
        ("::1", "::1", .ipv6), ("[::1]", "::1", .ipv6), ("2001:db8::5", "2001:db8::5", .ipv6),
        ("[2001:DB8::5]", "2001:db8::5", .ipv6),
        ("1:2:3:4:5:6:7:8", "1:2:3:4:5:6:7:8", .ipv6), ("::ffff:192.0.2.1", "::ffff:192.0.2.1", .ipv6),
        ("fe80::", "fe80::", .ipv6),
    ]

    @Test(arguments: accepted.indices)
    func namesAndAddressesPassInTheirBareForm(_ i: Int) throws {
        let (text, bare, kind) = Self.accepted[i]
        let a = try HostAddress.parse(text, field: "hosts[0]")
        #expect(a.host == bare && a.kind == kind && a.port == nil)
    }

    static let refused: [String] = [
        "host:22", "127.0.0.11:22", "[::1]:22", "[2001:db8::5]:2222", "a:b", "2001:db8::5:", ":::", "1::2::3",
        "gggg::1",
        "1:2:3:4:5:6:7:8:9", "1:2:3:4:5:6:7::8:9", "::1]", "[::1", "[web-1]", "[::1]x", "fe80::1%eth0", "1.2.3.256",
        "1.2.3", "1.2.3.4.5",
        "010.0.0.1", "-web", "web-", "a..b", ".a", "a.", "a;b", "$(id)", "host name", "user@host", "a/b", "",
        String(repeating: "a", count: 64) + ".com", String(repeating: "a.", count: 130) + "a", "web\u{0}1", "wéb",
    ]

    @Test(arguments: refused)
    func everythingElseIsRefusedNamingTheField(_ text: String) {
        do {
            let a = try HostAddress.parse(text, field: "hosts[0]")
            Issue.record("accepted \(text.debugDescription) as \(a)")
        } catch let e as ShipitError {
            #expect(e.exitCode == .usage)
            #expect(e.message.hasPrefix("hosts[0]: "), "\(e.message)")
        } catch { Issue.record("\(error)") }
    }

    @Test func aPortOnlyWhereOneIsAllowedAndThenInBracketsAfterIPv6() throws {
        #expect(
            try HostAddress.parse("bastion:2222", field: "f", allowsPort: true)
                == HostAddress(host: "bastion", kind: .name, port: 2222))
        #expect(
            try HostAddress.parse("[2001:db8::5]:2222", field: "f", allowsPort: true)
                == HostAddress(host: "2001:db8::5", kind: .ipv6, port: 2222))
        // Bare, every colon is the address's.
        #expect(
            try HostAddress.parse("2001:db8::5", field: "f", allowsPort: true)
                == HostAddress(host: "2001:db8::5", kind: .ipv6, port: nil))
        for bad in ["h:0", "h:65536", "h:", "[::1]:", "[::1]:x", "h:22x"] {
            #expect(throws: ShipitError.self, "\(bad)") { try HostAddress.parse(bad, field: "f", allowsPort: true) }
        }
        do {
            _ = try HostAddress.parse("web-1:22", field: "--hosts")
            Issue.record("accepted a port")
        } catch let e as ShipitError {
            #expect(e.message.contains("--hosts") && e.message.contains("port"), "\(e.message)")
        }
    }

    @Test func hostListsAndConfigsKeepTheBareForm() throws {
        #expect(try HostName.parseList("[::1],127.0.0.11", field: "--hosts") == ["::1", "127.0.0.11"])
        #expect(throws: ShipitError.self) { try HostName.parseList("::1,[::1]", field: "--hosts") }  // one host, twice
        #expect(throws: ShipitError.self) { try HostName.parseList("127.0.0.11:22", field: "--hosts") }
        let dir = Local.tempDir("addr-config")
        let c = try DeployConfig.parse(
            yaml:
                "app: t\nhosts: ['[2001:db8::5]', web-1]\ndeploy_to: /srv/t\nhealth: {port: 8080, address: '[2001:db8::7]'}\n",
            directory: dir)
        #expect(c.hosts == ["2001:db8::5", "web-1"])
        #expect(c.health?.address == "2001:db8::7")
        do {
            _ = try DeployConfig.parse(yaml: "app: t\nhosts: ['web-1:22']\ndeploy_to: /srv/t\n", directory: dir)
            Issue.record("accepted host:port")
        } catch let e as ShipitError {
            #expect(e.message.contains("hosts[0]") && e.message.contains("port"), "\(e.message)")
        }
    }

    @Test func jumpSpecsParseIPv6() throws {
        let s = ConnectionSettings(user: "deploy", useAgent: false)
        let fallback = s.sshOptions
        let bare = try s.jumpHop("2001:db8::5", defaultUser: "deploy", fallback: fallback, field: "--proxy-jump").target
        #expect(bare.host == "2001:db8::5" && bare.port == 22)
        let withPort = try s.jumpHop(
            "ops@[2001:db8::5]:2222", defaultUser: "deploy", fallback: fallback, field: "--proxy-jump"
        ).target
        #expect(withPort == SSHTarget(host: "2001:db8::5", port: 2222, user: "ops"))
        #expect(withPort.description == "ops@[2001:db8::5]:2222")
        #expect(withPort.knownHostsName == "[2001:db8::5]:2222")
        #expect(
            try s.jumpHop("ssh://bastion:2200", defaultUser: "deploy", fallback: fallback, field: "f").target
                == SSHTarget(host: "bastion", port: 2200, user: "deploy"))
        for bad in ["2001:db8::5:", "[2001:db8::5", "h:99999", "bad host", "a@b@c"] {
            #expect(throws: ShipitError.self, "\(bad)") {
                try s.jumpHop(bad, defaultUser: "deploy", fallback: fallback, field: "--proxy-jump")
            }
        }
    }

    /// ssh_config's HostName becomes the address connected to and bound: it passes the same rule.
    @Test func sshConfigHostNamesAreChecked() throws {
        let dir = Local.tempDir("addr-sshconfig")
        try "Host good\n  HostName [::1]\nHost bad\n  HostName evil;touch\nHost port\n  HostName web-1:22\n".write(
            toFile: dir + "/config", atomically: true, encoding: .utf8)
        var s = ConnectionSettings(user: "deploy", useAgent: false)
        s.sshConfigPath = dir + "/config"
        try s.loadSSHConfig()
        #expect(try s.endpoint(for: "good").target.host == "::1")
        #expect(s.address(of: "good") == "::1")
        try s.checkHostNames(["good", "other"])
        for alias in ["bad", "port"] {
            do {
                _ = try s.endpoint(for: alias)
                Issue.record("accepted \(alias)")
            } catch let e as ShipitError {
                #expect(e.message.hasPrefix("HostName (ssh_config, host \(alias)): "), "\(e.message)")
            }
            #expect(throws: ShipitError.self) { try s.checkHostNames([alias]) }
        }
    }

    @Test func ipv6IsBracketedWhereAPortFollows() throws {
        #expect(HostAddress.withPort("::1", 8080) == "[::1]:8080")
        #expect(HostAddress.withPort("web-1", 8080) == "web-1:8080")
        #expect(HostAddress.withPort("127.0.0.1", 80) == "127.0.0.1:80")
        let c = try DeployConfig.parse(
            yaml:
                "app: t\nhosts: ['::1']\ndeploy_to: /srv/t\nstart: sh s.sh\nhealth: {port: 8080, address: '2001:db8::5'}\ntraffic: {mode: system, upstream_file: /etc/nginx/u.conf, test: 'nginx -t', reload: 'nginx -s reload'}\n",
            directory: Local.tempDir("addr-render"))
        let traffic = TrafficSwitch(settings: try #require(c.traffic), layout: c.layout, health: try #require(c.health))
        let conf = traffic.nginxConf(host: "::1")
        #expect(conf.contains("listen [2001:db8::5]:\(traffic.publicPort);"), "\(conf)")
        #expect(conf.contains("proxy_pass http://[2001:db8::5]:\(c.traffic!.slots[0]);"), "\(conf)")
        #expect(!conf.contains(" 2001:db8::5:"), "\(conf)")
        #expect(traffic.upstream(host: "::1", slot: 8081).contains("server [2001:db8::5]:8081;"))
        #expect(traffic.variables(host: "::1").contains { $0 == ("SLOT_BIND", "[2001:db8::5]") })
        let image = ImageStrategy(config: c, image: ImageSettings(name: "localhost/app", containerPort: 80, port: 8080))
        #expect(
            image.createArguments(host: "::1").contains("-p '[2001:db8::5]:8080:80'"),
            "\(image.createArguments(host: "::1"))")
    }
}
