import FoundationEssentials
import SSH

/// `shipit check`: connect, host key, auth, `deploy_to`, free disk, the tools the strategy needs,
/// the lock, the current release and clock skew, on every host in parallel; one exec channel per
/// host, nothing changed (with `fix`, `deploy_to` and its layout are created and a deploy user
/// whose units need it is made to linger, nothing else).
public struct FleetCheck: Sendable {
    public let config: DeployConfig
    public let transport: HostTransport
    public var fix = false
    /// Free space below this fails the disk check.
    public var minFreeKB: Int64 = 100 * 1024
    /// Clock skew beyond these warns / fails: the ledger (deployer's clock) and the hosts' history
    /// lines (their clocks) are merged by time in `changes` and `triage`.
    public var skewWarn: Double = 5
    public var skewFail: Double = 60

    public init(config: DeployConfig, transport: HostTransport) {
        self.config = config
        self.transport = transport
    }

    public func run() async -> CheckReport {
        let started = ContinuousClock.now
        var results = await Fleet.bounded(config.hosts, limit: config.connection.parallel) { host in
            await self.check(host)
        }
        // The front door's certificate on the hosts that answered: the same everywhere, not due.
        if let certs = try? FrontDoorCerts(config: config, transport: transport) {
            let answered = Set(results.filter { $0.value.first?.status == .ok }.keys)
            let served = await certs.served(
                hosts: config.hosts.filter { answered.contains($0) && config.hostRoles.runsApp($0) })
            let found = certs.findings(served)
            for (host, result) in served {
                let item: CheckReport.Item
                if let f = found[host] {
                    let broken = f.contains { $0.severity == .broken }
                    // None yet: what the first deploy installs.
                    var none = false
                    if case .success(nil) = result { none = true }
                    item = .init(
                        "certificate", broken && !none ? .fail : .warn, f.map(\.detail).joined(separator: "; "),
                        fix: none ? "the next deploy installs it" : "shipit certs renew")
                } else if case .success(let s?) = result {
                    item = .init(
                        "certificate", .ok, "\(s.names.joined(separator: ", ")) until \(UTCTime.iso(s.notAfter))")
                } else {
                    continue
                }
                results[host, default: []].append(item)
            }
        }
        return CheckReport(
            app: config.app, strategy: config.strategy.rawValue, deployTo: config.deployTo,
            hosts: config.hosts.map { CheckReport.HostResult(host: $0, items: results[$0] ?? []) },
            seconds: ExecRunner.seconds(ContinuousClock.now - started))
    }

    func check(_ host: String) async -> [CheckReport.Item] {
        let hostCheck = HostCheck(config: config)
        let sent = Date()
        let result: ExecResult
        do {
            result = try await transport.run(host, hostCheck.command(host: host, fix: fix))
        } catch {
            return [connectionFailure(host, error)]
        }
        let received = Date()
        let out = ScriptOutput(result.stdoutText)
        let user = out.first(.user) ?? config.connection.user
        let endpoint = try? config.connection.endpoint(for: host)
        let via =
            endpoint.map {
                $0.jumps.isEmpty ? "" : " through \($0.jumps.map(\.target.description).joined(separator: " > "))"
            } ?? ""
        let known = endpoint?.options.knownHostsPath ?? config.connection.knownHostsPath
        var items = [CheckReport.Item("ssh", .ok, "connected as \(user)\(via); host key matches \(known)")]
        guard result.status.succeeded || out.first(.existing) != nil else {
            items.append(
                .init(
                    "script", .fail,
                    "the check script failed (exit \(result.exitCode)): \(String(result.stderrText.suffix(300)))",
                    fix: "the host needs a POSIX sh with df and awk"))
            return items
        }
        if let f = out.first(.fixed) { items.append(.init("fix", .ok, f)) }
        if let f = out.first(.fixfailed) {
            items.append(
                .init("fix", .fail, f, fix: "create it as root: sudo install -d -o \(user) \(config.deployTo)"))
        }
        items.append(deployTo(out, user: user))
        items.append(disk(out))
        items.append(tools(out, host: host))
        if let supervision = Strategies.make(config).supervisor,
            let item = SupervisorCheck(supervision: supervision).item(out, user: user)
        {
            items.append(item)
        }
        var inventory = HostInspection(host: host, reachable: true)
        inventory.read(out)
        items.append(lock(inventory))
        items.append(
            .init(
                "release", .ok,
                inventory.current.map { "current \($0)" + (inventory.previous.map { ", previous \($0)" } ?? "") }
                    ?? "none yet (first deploy)"))
        items.append(clock(out.first(.clock), sent: sent, received: received))
        items.append(upload(sftp: await transport.sftpAvailable(host)))
        return items
    }

    /// How artifacts will reach the host: hardened sshd often offers no SFTP, which is fine.
    func upload(sftp: Bool) -> CheckReport.Item {
        let mode = config.connection.upload
        if sftp {
            return .init(
                "upload", .ok,
                mode == .auto
                    ? "streamed on the extract script's stdin up to 2 MiB, SFTP above"
                    : "\(mode.rawValue) (SFTP available)")
        }
        switch mode {
        case .sftp, .scp:
            return .init(
                "upload", .warn,
                "this host's sshd offers no SFTP: uploads are streamed on the extract script's stdin instead",
                fix: "nothing to do; or set ssh.upload: stream to say so")
        default:
            return .init(
                "upload", .ok,
                "streamed on the extract script's stdin (this host's sshd offers no SFTP; none is needed)")
        }
    }

    func connectionFailure(_ host: String, _ error: Error) -> CheckReport.Item {
        let c = config.connection
        let why = ErrorText.withoutHost(error)
        guard let e = error as? SSHError else {
            return .init("ssh", .fail, why, fix: "check the address and that sshd runs on port \(c.port)")
        }
        let keyscan = "ssh-keyscan -p \(c.port) \(host) >> \(c.knownHostsPath)"
        switch e.kind {
        case .hostKeyUnknown:
            return .init(
                "host key", .fail, "\(host) is not in \(c.knownHostsPath): \(why)",
                fix:
                    "add its key after comparing the fingerprint out of band: \(keyscan) (or, once, --accept-new-host-keys)"
            )
        case .hostKeyMismatch:
            return .init(
                "host key", .fail, "the key \(host) offers does NOT match \(c.knownHostsPath): \(why)",
                fix:
                    "if the host was reinstalled, confirm its new fingerprint out of band, then: ssh-keygen -R \(host) -f \(c.knownHostsPath) && \(keyscan); otherwise treat it as a possible interception and do not deploy"
            )
        case .hostKeyCheck:
            return .init("host key", .fail, why, fix: "check that \(c.knownHostsPath) is readable and well-formed")
        case .authentication:
            let keys = c.identities.isEmpty ? "your key" : c.identities.joined(separator: ", ")
            return .init(
                "auth", .fail, "\(c.user)@\(host) refused \(keys): \(why)",
                fix:
                    "add the public key to ~\(c.user)/.ssh/authorized_keys on \(host) (ssh-copy-id -p \(c.port) \(c.user)@\(host)), or set ssh.user / ssh.identity"
            )
        case .resolve:
            return .init("ssh", .fail, why, fix: "\(host) does not resolve: check the name in hosts: (or DNS)")
        case .connect, .timeout, .handshake:
            return .init(
                "ssh", .fail, why,
                fix:
                    "check that \(host) is up, sshd listens on port \(c.port) and no firewall is in the way (ssh.connect_timeout is \(c.connectTimeout) s)"
            )
        default:
            return .init(
                "ssh", .fail, why, fix: "run `ssh -p \(c.port) \(c.user)@\(host) true` to see what the host says")
        }
    }

    func deployTo(_ out: ScriptOutput, user: String) -> CheckReport.Item {
        let d = config.deployTo
        let existing = out.first(.existing) ?? "?"
        let writable = out.first(.writable) == "1"
        let create = "sudo install -d -o \(user) \(d)"
        if existing == d {
            guard writable else {
                return .init(
                    "deploy_to", .fail, "\(d) is not writable by \(user)",
                    fix: "give it to the deploy user: sudo chown -R \(user) \(d)")
            }
            return out.first(.layout) == "1"
                ? .init("deploy_to", .ok, "\(d) writable by \(user)")
                : .init(
                    "deploy_to", .ok,
                    "\(d) writable by \(user); releases/ and shared/ are created by the first deploy (or check --fix)")
        }
        guard writable else {
            return .init(
                "deploy_to", .fail, "\(d) does not exist and \(existing) is not writable by \(user)",
                fix: "create it for the deploy user: \(create)")
        }
        return .init(
            "deploy_to", .warn, "\(d) does not exist yet (\(existing) is writable: the first deploy creates it)",
            fix: "shipit check --fix creates it now")
    }

    func disk(_ out: ScriptOutput) -> CheckReport.Item {
        guard let text = out.first(.diskKB), let kb = Int64(text) else {
            return .init("disk", .warn, "could not read free space (df)", fix: "check that df -Pk works on the host")
        }
        let free = String(cFormat: "%.1f GiB", Double(kb) / 1_048_576)
        guard kb >= minFreeKB else {
            return .init(
                "disk", .fail, "only \(kb / 1024) MiB free for \(config.deployTo), need \(minFreeKB / 1024) MiB",
                fix: "free space on that filesystem (old releases: lower keep_releases), or move deploy_to")
        }
        return .init("disk", .ok, "\(free) free")
    }

    func tools(_ out: ScriptOutput, host: String) -> CheckReport.Item {
        let why = Dictionary(HostCheck(config: config).tools(host: host).map { ($0.tool, $0.why) }) { a, _ in a }
        let lines = out.all(.tool)
        let found = lines.filter { $0.hasPrefix("ok ") }.map { String($0.dropFirst(3)) }
        let missing = lines.filter { $0.hasPrefix("missing ") }.map { String($0.dropFirst(8)) }
        guard missing.isEmpty else {
            let list = missing.map { "\($0) (\(why[$0] ?? "needed"))" }.joined(separator: ", ")
            let debian = missing.map { $0 == "sha256sum" || $0 == "readlink" || $0 == "mv" ? "coreutils" : $0 }
            return .init(
                "tools", .fail, "missing: \(list)",
                fix:
                    "install them (Debian: sudo apt-get install \(Array(Set(debian)).sorted().joined(separator: " "))) or fix the PATH of a non-login SSH shell"
            )
        }
        return .init("tools", .ok, found.isEmpty ? "none needed" : found.joined(separator: " "))
    }

    func lock(_ h: HostInspection) -> CheckReport.Item {
        guard let l = h.lock else { return .init("lock", .ok, "free") }
        let who =
            "held by \(l.by ?? "?") (pid \(l.pid ?? "?"), since \(l.started ?? "?"))\(l.reason.map { " for \($0)" } ?? "")"
        return .init(
            "lock", .warn, who,
            fix: "a deploy now would wait for it (--lock-wait) or exit 6; if that run is dead: shipit lock release")
    }

    /// Skew = the host's clock minus the deployer's at the middle of the round trip; anything
    /// within half the round trip (plus the host clock's resolution) is no skew at all.
    func clock(_ remote: String?, sent: Date, received: Date) -> CheckReport.Item {
        // `date +%s.%N`; a date without %N prints it literally: whole seconds then.
        let parts = (remote ?? "").split(separator: ".", maxSplits: 1).map(String.init)
        guard let first = parts.first, let seconds = Double(first) else {
            return .init(
                "clock", .warn, "could not read the host's clock (date +%s)", fix: "check that date works on the host")
        }
        let fraction = parts.count > 1 && parts[1].allSatisfy(\.isNumber) ? Double("0." + parts[1]) : nil
        let hostTime = seconds + (fraction ?? 0)
        let mid = sent.timeIntervalSince1970 + received.timeIntervalSince(sent) / 2
        let tolerance = received.timeIntervalSince(sent) / 2 + (fraction == nil ? 1 : 0.05)
        let raw = hostTime - mid
        let skew = abs(raw) <= tolerance ? 0 : raw
        let said = String(cFormat: "%+.1f s against this machine", skew)
        let fix =
            "sync the clocks with NTP on the host and here (timedatectl set-ntp true; chrony or systemd-timesyncd)"
        if abs(skew) > skewFail { return .init("clock", .fail, "\(said) (more than \(Int(skewFail)) s)", fix: fix) }
        if abs(skew) > skewWarn { return .init("clock", .warn, said, fix: fix) }
        return .init("clock", .ok, said)
    }
}
