import FoundationEssentials
import SSH

/// `shipit triage`: the first-response playbook on every host at once — reachability, processes,
/// health endpoints, resource pressure, dependency checks, schema — then the recent changes, the
/// layer to look at first, the change most likely related, and whether a rollback is available and
/// safe. One exec channel and two health probes per host; a dead host is a finding, not a crash.
public struct Triage: Sendable {
    public let config: DeployConfig
    public let transport: HostTransport
    public let ledger: Ledger?
    public let ledgerStatus: String
    public let since: Date
    /// Check output, errors and health bodies are the hosts' words: they reach the screen and the
    /// incident note (often pasted into a ticket or a chat) only redacted.
    let redactor: Redactor

    public init(config: DeployConfig, transport: HostTransport, ledger: Ledger?, ledgerStatus: String, since: Date) {
        self.redactor = Redactor(config: config)
        self.config = config
        self.transport = transport
        self.ledger = ledger
        self.ledgerStatus = ledgerStatus
        self.since = since
    }

    struct Probed: Sendable {
        var out: ScriptOutput?
        var error: String?
        var live: HostInspection.Probe?
        var ready: HostInspection.Probe?
        /// The host's role processes (a worker), checked once.
        var roles: [HostInspection.Probe] = []
    }

    public func run(now: Date = Date()) async -> TriageReport {
        let started = ContinuousClock.now
        let commands = TriageCommands(config: config)
        let health = config.health
        let transport = self.transport
        let strategy = Strategies.make(config)
        let probed = await Fleet.bounded(config.hosts, limit: config.connection.parallel) { host -> Probed in
            var p = Probed()
            do {
                let r = try await transport.run(host, commands.probe(host: host, historyLines: HostHistory.readLimit))
                p.out = ScriptOutput(r.stdoutText)
            } catch {
                let why: String = redactor.redact(ErrorText.withoutHost(error))
                p.error = why
                return p
            }
            if let check = strategy.roleCheck(host: host, deadline: 0, interval: 0.1) {
                p.roles = await FleetInspector.checkRoles(
                    transport, host: host, check, names: strategy.roles.processes(on: host).map(\.name))
            }
            if let health, strategy.roles.runsApp(host) {
                p.live = await FleetInspector.probe(transport, host: host, health: health, path: health.live)
                p.ready = await FleetInspector.probe(transport, host: host, health: health, path: health.ready)
            }
            return p
        }
        var rows: [TriageReport.HostRow] = []
        var findings: [TriageReport.Finding] = []
        var history: [String: [HostHistory.Entry]] = [:]
        var hostStatus: [String: String] = [:]
        var inventory: [String: ScriptOutput] = [:]
        for host in config.hosts {
            let p = probed[host] ?? Probed(error: "no answer")
            guard let out = p.out else {
                rows.append(.init(host: host, reachable: false, error: p.error, checks: [:]))
                findings.append(
                    .init(host: host, layer: .network, check: "ssh", detail: "unreachable: \(p.error ?? "?")"))
                hostStatus[host] = "unreachable: \(p.error ?? "?")"
                continue
            }
            hostStatus[host] = "ok"
            inventory[host] = out
            history[host] = HostHistory.parse(out.all(.history).joined(separator: "\n"))
            var (row, found) = judge(host: host, out: out, live: p.live, ready: p.ready)
            for r in p.roles where !r.ok {
                found.append(.init(host: host, layer: .process, check: "role", detail: redactor.redact(r.detail)))
            }
            if !p.roles.isEmpty { row.roles = HostInspection.summary(p.roles) }
            rows.append(row)
            findings += found
        }

        await releaseFindings(rows: rows, findings: &findings)
        // The front door's certificate: the same on every host, not due, not expired.
        if let certs = try? FrontDoorCerts(config: config, transport: transport) {
            let reachable = config.hosts.filter { inventory[$0] != nil && config.hostRoles.runsApp($0) }
            let served = await certs.served(hosts: reachable)
            let due = certs.findings(served)
            for host in config.hosts {
                for f in due[host] ?? [] {
                    findings.append(
                        .init(host: host, layer: .network, check: "certificate", detail: redactor.redact(f.detail)))
                }
            }
        }
        // Recent changes: the ledger merged with the history lines the probes already brought back.
        let changes = await ChangesQuery(from: since, askHosts: false, limit: 50)
            .run(
                config: config, ledger: ledger, ledgerStatus: ledgerStatus, transport: transport, history: history,
                hostStatus: hostStatus)
        let affected = Set(findings.map(\.host))
        let likely = changes.entries.last { e in
            affected.isEmpty || e.hosts.contains { affected.contains($0.host) } || e.hosts.isEmpty
        }
        let rollback = await rollbackAdvice(inventory: inventory, rows: rows, changes: changes)
        var report = TriageReport(
            app: config.app, stage: config.stage, time: now, since: since, hosts: rows, findings: findings,
            firstFailingLayer: TriageReport.firstLayer(findings), changes: changes, likelyChange: likely?.attempt,
            rollback: rollback, seconds: 0)
        // The logs layer: the error lines of the window on every host that answered.
        let reachable = config.hosts.filter { inventory[$0] != nil }
        if !reachable.isEmpty {
            let logs = await FleetLogs(config: config, transport: transport, hosts: reachable)
                .fetch(since: since, until: nil, grep: config.logs.errors, maxBytes: Self.logBytes)
            for host in reachable {
                let lines = logs.lines.filter { $0.host == host }.suffix(Self.logLines)
                if !lines.isEmpty { report.logErrors[host] = Array(lines) }
                let notes = (logs.notes[host] ?? []) + (logs.failed[host].map { ["cannot read the logs: \($0)"] } ?? [])
                if !notes.isEmpty { report.logNotes[host] = notes }
            }
        }
        report.seconds = ExecRunner.seconds(ContinuousClock.now - started)
        return report
    }

    /// Error lines kept per host, and the most read from one.
    static let logLines = 10
    static let logBytes = 64 * 1024

    /// One host's row and findings from its probe output and health probes.
    func judge(host: String, out: ScriptOutput, live: HostInspection.Probe?, ready: HostInspection.Probe?) -> (
        TriageReport.HostRow, [TriageReport.Finding]
    ) {
        let t = config.triage
        var found: [TriageReport.Finding] = []
        func add(_ layer: TriageReport.Layer, _ check: String, _ detail: String) {
            found.append(.init(host: host, layer: layer, check: check, detail: redactor.redact(detail)))
        }
        func num(_ k: ScriptKey) -> Double? { out.first(k).flatMap(Double.init) }

        let release = out.first(.current).flatMap { $0.isEmpty ? nil : $0 }
        if release == nil { add(.process, "release", "no current release on this host") }
        let container = out.first(.container)
        if let c = container, c != "running" {
            add(.process, "container", "the container of \(release ?? "?") is \(c)")
        }
        let supervisor = SupervisorState(out)
        for (layer, check, detail) in Self.supervisorFindings(supervisor) { add(layer, check, detail) }
        if let live, !live.ok { add(.health, "live", live.detail) }
        if let ready, !ready.ok { add(.health, "ready", ready.detail) }

        let diskUsed = num(.diskUsedPercent)
        if let used = diskUsed, 100 - used < t.diskMinFreePercent {
            add(
                .resources, "disk",
                "\(out.first(.diskMount) ?? "/") is \(Int(used))% full (\(out.first(.diskAvailKB) ?? "?") KB free; threshold \(Int(t.diskMinFreePercent))% free)"
            )
        }
        if let inodes = num(.inodesUsedPercent), 100 - inodes < t.diskMinFreePercent {
            add(.resources, "inodes", "\(Int(inodes))% of inodes used")
        }
        var memPct: Double?
        if let total = num(.memTotalKB), let avail = num(.memAvailableKB), total > 0 {
            memPct = avail / total * 100
            if memPct! < t.memoryMinAvailablePercent {
                add(.resources, "memory", String(cFormat: "%.1f%% of memory available", memPct!))
            }
        }
        var loadPer: Double?
        if let l = num(.load1), let cpus = num(.cpus), cpus > 0 {
            loadPer = l / cpus
            if loadPer! > t.loadMaxPerCPU {
                add(.resources, "load", String(cFormat: "load %.2f on %.0f CPUs", l, cpus))
            }
        }
        var fdPct: Double?
        if let used = num(.fdsUsed), let max = num(.fdsMax), max > 0 {
            fdPct = used / max * 100
            if fdPct! > t.openFilesMaxPercent {
                add(.resources, "open files", String(cFormat: "%.0f of %.0f file handles in use", used, max))
            }
        }
        if let m = config.migrations, out.first(.mfiles) != nil {
            if let e = out.first(.schemaError) {
                add(.schema, "migrations", e)
            } else {
                let set = MigrationSet.fromChecksums(out.all(.mfile), dir: m.dir)
                let applied = MigrationSet.applied(out.all(.applied))
                for d in set.drift(applied: applied) { add(.schema, "drift", d) }
                let pending = set.pending(applied: applied)
                if !pending.isEmpty {
                    add(
                        .schema, "pending",
                        "the running release has migrations the database lacks: \(pending.map(\.label).joined(separator: ", "))"
                    )
                }
            }
        }
        var checks: [String: Int] = [:]
        for c in TriageCommands(config: config).checks(for: host) {
            let rc = out.first("check.\(c.name)").flatMap { Int($0) } ?? -1
            checks[c.name] = rc
            if rc != 0 {
                let why = rc == 124 ? "timed out after \(c.timeout)s" : "exit \(rc)"
                add(
                    c.layer == .process ? .process : .dependency, c.name,
                    "\(why): \(out.first("check.\(c.name).out") ?? "")")
            }
        }
        let lock = out.first(.lockHolder).map { _ in
            redactor.redact("held by \(out.first(.lockBy) ?? "?") since \(out.first(.lockStarted) ?? "?")")
        }
        let row = TriageReport.HostRow(
            host: host, reachable: true, release: release, live: live.map { $0.ok ? "ok" : "FAIL" },
            ready: ready.map { $0.ok ? "ok" : "FAIL" }, diskUsedPercent: diskUsed, memoryAvailablePercent: memPct,
            loadPerCPU: loadPer, openFilesPercent: fdPct, container: container, checks: checks, lock: lock,
            supervisor: supervisor?.summary)
        return (row, found)
    }

    /// What the supervisor says about the processes: a unit that should run and does not (the
    /// process layer), restarts systemd made on its own (the process exits or crashes: the process
    /// layer, before its health), a process the kernel killed for memory (resources). A unit not
    /// enabled serves on: `verify`'s finding, not an incident's.
    static func supervisorFindings(_ s: SupervisorState?) -> [(TriageReport.Layer, String, String)] {
        guard let s, s.isSystemd else { return [] }
        var found: [(TriageReport.Layer, String, String)] = []
        if let e = s.error { found.append((.process, "supervisor", "systemd did not answer: \(e)")) }
        for u in s.units {
            if !u.isActive, let p = u.problem(short: false) { found.append((.process, "supervisor", p)) }
            if u.restarts > 0 {
                found.append(
                    (
                        .process, "restarts",
                        "systemd restarted \(u.name) \(u.restarts == 1 ? "once" : "\(u.restarts) times") since it was started: the \(u.kind == .role ? u.what : "app") exits or crashes (its log: shipit logs)"
                    ))
            }
            if u.result == "oom-kill" {
                found.append(
                    (.resources, "memory", "\(u.name): the kernel killed its process for lack of memory (oom-kill)"))
            }
        }
        return found
    }

    /// Whether `shipit rollback` would find a target now, and whether going back is safe: a
    /// release recorded as rollback-unsafe (a contract migration) since the target blocks it.
    func rollbackAdvice(inventory: [String: ScriptOutput], rows: [TriageReport.HostRow], changes: Timeline) async
        -> TriageReport.Rollback
    {
        let reachable = config.hosts.filter { inventory[$0] != nil }
        guard !reachable.isEmpty else {
            return .init(available: false, target: nil, command: nil, safe: false, why: "no host answered")
        }
        let currents = rows.compactMap(\.release)
        let (target, problem) = RollbackTarget.choose(
            hosts: reachable, requested: nil, inventory: inventory, currents: currents)
        guard let target else {
            return .init(available: false, target: nil, command: nil, safe: false, why: problem ?? "no target")
        }
        var unsafe: [String] = []
        if let ledger {
            unsafe = await RollbackTarget.unsafeReleases(
                since: target, ledger: ledger, app: config.app, stage: config.stage
            )
            .map { "\($0.releaseID) (\($0.migrations.joined(separator: ", ")))" }
        }
        let stageFlag = config.stage.map { " --stage \($0)" } ?? ""
        let command = "shipit rollback --config \(config.file)\(stageFlag)"
        if !unsafe.isEmpty {
            return .init(
                available: true, target: target, command: command + " --force", safe: false,
                why:
                    "releases since \(target) changed the schema in a way old code cannot run against: \(unsafe.joined(separator: "; ")); fix forward instead"
            )
        }
        let unreachable = config.hosts.count - reachable.count
        return .init(
            available: true, target: target, command: command, safe: true,
            why: "\(target) is on every reachable host and no schema change is recorded since"
                + (unreachable > 0
                    ? " (\(unreachable) host(s) unreachable: rollback will fail its pre-flight there)" : "")
                + Self.warmNote(target: target, inventory: reachable.compactMap { inventory[$0] }))
    }

    /// With the traffic switch: whether the target runs warm on every host (the rollback is then a
    /// traffic switch, no restart).
    static func warmNote(target: String, inventory: [ScriptOutput]) -> String {
        guard !inventory.isEmpty, inventory.allSatisfy({ $0.first(.slotActive) != nil }) else { return "" }
        let warm = inventory.filter { out in
            out.pairs.contains { $0.0.hasPrefix("slot.") && $0.1 == "\(target) running" }
        }.count
        return warm == inventory.count
            ? "; it runs warm on every host: the rollback is a traffic switch (no restart)"
            : "; it runs warm on \(warm) of \(inventory.count) host(s), the others start it on their idle slot first"
    }
}
