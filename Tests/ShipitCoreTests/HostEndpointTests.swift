import Foundation
import SSH
import ShipitCore
import TestSupport
import Testing

/// How shipit.yml, flags and ssh_config combine into where and how each host is reached.
@Suite("host endpoints: shipit.yml and flags over ssh_config over defaults")
struct HostEndpointTests {
    func load(_ yaml: String, sshConfig: String) throws -> DeployConfig {
        let dir = Local.tempDir("ep")
        try sshConfig.write(toFile: dir + "/ssh_config", atomically: true, encoding: .utf8)
        try (yaml + "\n  config: ssh_config\n").write(toFile: dir + "/shipit.yml", atomically: true, encoding: .utf8)
        return try DeployConfig.load(file: dir + "/shipit.yml")
    }

    static let sshConfig = """
        Host web-*
          HostName 10.1.0.%h
          User fromconfig
          Port 2201
          ProxyJump ops@bastion:2222
          ConnectTimeout 4
          StrictHostKeyChecking accept-new
        Host web-2
          HostName 10.1.0.2
        Host bastion
          HostName 203.0.113.9
          UserKnownHostsFile /etc/shipit-test/bastion_known_hosts
        """

    @Test func sshConfigFillsWhatShipitYmlLeavesOpen() throws {
        let c = try load(
            "app: a\nhosts: [web-2]\ndeploy_to: /srv/a\nhealth: {port: 8080}\nssh:\n  known_hosts: /kh",
            sshConfig: Self.sshConfig)
        let e = try c.connection.endpoint(for: "web-2")
        // The first value obtained wins, as in OpenSSH: `Host web-*` comes before `Host web-2`.
        #expect(e.target.host == "10.1.0.web-2")
        #expect(e.target.user == "fromconfig")
        #expect(e.target.port == 2201)
        #expect(e.options.connectTimeout == 4)
        #expect(e.options.hostKeyPolicy == .acceptNew)
        // known_hosts is set in shipit.yml: it wins over ssh_config.
        #expect(e.options.knownHostsPath == "/kh")
        #expect(e.jumps.count == 1)
        #expect(e.jumps[0].target == SSHTarget(host: "203.0.113.9", port: 2222, user: "ops"))
        // The bastion's own entry: its known_hosts… but shipit.yml's known_hosts is explicit, and wins.
        #expect(e.jumps[0].options.knownHostsPath == "/kh")
        // The address the host is reached on (the public port's check) is the alias's HostName.
        #expect(c.health?.reachedAddress(of: "web-2") == e.target.host)
    }

    @Test func shipitYmlWinsOverSSHConfig() throws {
        let c = try load(
            "app: a\nhosts: [web-1]\ndeploy_to: /srv/a\nssh:\n  user: deploy\n  port: 22\n  connect_timeout: 9\n  proxy_jump: none",
            sshConfig: Self.sshConfig)
        let e = try c.connection.endpoint(for: "web-1")
        #expect(e.target.user == "deploy")
        #expect(e.target.port == 22)
        #expect(e.options.connectTimeout == 9)
        #expect(e.jumps.isEmpty)
        #expect(e.target.host == "10.1.0.web-1")
    }

    @Test func aJumpChainFromShipitYml() throws {
        let c = try load(
            "app: a\nhosts: [db]\ndeploy_to: /srv/a\nssh:\n  user: deploy\n  proxy_jump: [outer.example.com, 'admin@inner:2022']",
            sshConfig: "")
        let e = try c.connection.endpoint(for: "db")
        #expect(
            e.jumps.map(\.target) == [
                SSHTarget(host: "outer.example.com", port: 22, user: "deploy"),
                SSHTarget(host: "inner", port: 2022, user: "admin"),
            ])
        #expect(e.jumps[1].key.hasPrefix(e.jumps[0].key + " > "))
        #expect(e.target == SSHTarget(host: "db", port: 22, user: "deploy"))
    }

    @Test func badJumpSpecsAreRefusedNamingTheField() throws {
        for bad in ["'bastion:http'", "'bad host'", "'-oProxyCommand=x'", "'a;b'", "'us er@h'"] {
            do {
                _ = try load("app: a\nhosts: [db]\ndeploy_to: /srv/a\nssh:\n  proxy_jump: \(bad)", sshConfig: "")
                Issue.record("accepted proxy_jump \(bad)")
            } catch let e as ShipitError {
                #expect(e.message.contains("ssh.proxy_jump"), "\(e.message)")
            }
        }
        do {
            _ = try load(
                "app: a\nhosts: [db]\ndeploy_to: /srv/a\nssh:\n  user: deploy", sshConfig: "Host *\n  Port 0\n")
            Issue.record("accepted Port 0")
        } catch let e as ShipitError {
            #expect(e.message.contains("ssh.config:") && e.message.contains(":2: Port"), "\(e.message)")
        }
    }
}
