import Foundation
import SSH

/// Runs one deploy (or rollback) of the symlink strategy across all hosts, driven by
/// `DeployStateMachine`: pre-flight everywhere before any change, upload once per host, atomic
/// switch, smoke test, and automatic rollback of every switched host on failure.
public final class Deployment: @unchecked Sendable {
    public struct Options: Sendable {
        public var lockWaitSeconds = 0
        public var autoRollback = true
        public var reason = "deploy"
        public init() {}
    }

    let config: DeployConfig
    let transport: HostTransport
    let options: Options
    let notify: @Sendable (DeployNotice) -> Void
    let interrupt: InterruptFlag
    let commands: SymlinkCommands
    let holder = UUID().uuidString.lowercased()
    let hooks: Hooks

    // Owned by `run` (phases run hosts in parallel but merge results here, one phase at a time).
    var machine: DeployStateMachine
    var hosts: [String: DeployReport.HostResult] = [:]
    var locked: Set<String> = []
    var lockHeld = false
    var failedIn: DeployPhase?

    public init(config: DeployConfig, transport: HostTransport, options: Options = Options(),
                interrupt: InterruptFlag = InterruptFlag(), notify: @escaping @Sendable (DeployNotice) -> Void) {
        self.config = config
        self.transport = transport
        self.options = options
        self.notify = notify
        self.interrupt = interrupt
        self.commands = SymlinkCommands(layout: config.layout, timeout: config.connection.commandTimeout)
        self.machine = DeployStateMachine(autoRollback: options.autoRollback)
        self.hooks = Hooks(directory: config.hooksDir)
        for h in config.hosts { hosts[h] = DeployReport.HostResult(host: h) }
    }

    /// `user@machine` of whoever runs shipit, for locks and history.
    let deployer = "\(ProcessInfo.processInfo.environment["USER"] ?? NSUserName())@\(ProcessInfo.processInfo.hostName)"

    var lockInfo: String {
        "holder=\(holder)\npid=\(getpid())\nby=\(deployer)\nstarted=\(ISO8601DateFormatter().string(from: Date()))\nreason=\(options.reason)"
    }

    // MARK: phases

    typealias StepResult = (ok: Bool, output: ScriptOutput, error: String?)

    /// Runs `body` on `targets` in parallel with a notice per host; returns each host's result.
    func phase(_ step: String, on targets: [String], _ body: @escaping @Sendable (String) async -> StepResult) async -> [String: StepResult] {
        let notify = self.notify
        return await Fleet.bounded(targets, limit: config.connection.parallel) { host in
            let start = ContinuousClock.now
            let r = await body(host)
            let secs = ExecRunner.seconds(ContinuousClock.now - start)
            notify(DeployNotice(host: host, step: step, status: r.ok ? .ok : .failed, message: r.ok ? "" : (r.error ?? "failed"), seconds: secs))
            return r
        }
    }

    /// Runs a remote script and turns a non-zero exit into its `error=` line (or stderr tail).
    @Sendable func remote(_ host: String, _ command: RemoteCommand) async -> StepResult {
        do {
            let r = try await transport.run(host, command)
            let out = ScriptOutput(r.stdoutText)
            if r.status.succeeded { return (true, out, nil) }
            let why = out.first("error") ?? Self.tail(r.stderrText) ?? "exit \(r.exitCode)"
            return (false, out, why)
        } catch {
            return (false, ScriptOutput(""), ErrorText.withoutHost(error))
        }
    }

    static func tail(_ text: String) -> String? {
        let t = text.trimmingCharacters(in: .whitespacesAndNewlines)
        return t.isEmpty ? nil : String(t.suffix(300)).replacingOccurrences(of: "\n", with: " | ")
    }

    func record(_ results: [String: StepResult], step: String) -> [String] {
        var failed: [String] = []
        for (host, r) in results where !r.ok {
            hosts[host]?.failedStep = step
            hosts[host]?.error = r.error
            failed.append(host)
        }
        return failed.sorted()
    }

    func advance(_ event: DeployEvent) {
        let before = machine.phase
        do { try machine.handle(event) } catch {
            preconditionFailure("invalid deploy transition from \(before) on \(event)")
        }
        switch event {
        case .phaseFailed, .interrupted: if failedIn == nil { failedIn = before }
        case .start, .phaseSucceeded: break
        }
        notify(DeployNotice(host: nil, step: "state", status: .info, message: "\(before.rawValue) → \(machine.phase.rawValue)"))
    }

    /// Checks for SIGINT/SIGTERM between steps.
    func stopRequested() -> Bool {
        guard interrupt.isRaised else { return false }
        notify(DeployNotice(host: nil, step: "signal", status: .info, message: "interrupted: starting no new step"))
        advance(.interrupted(anySwitched: hosts.values.contains { $0.current != nil && $0.current != $0.previous }))
        return true
    }

    func hookEnv(_ release: String) -> [String: String] {
        let previous = Set(hosts.values.compactMap(\.previous)).sorted().joined(separator: ",")
        return ["SHIPIT_APP": config.app, "SHIPIT_STAGE": config.stage ?? "", "SHIPIT_RELEASE": release,
                "SHIPIT_PREVIOUS_RELEASE": previous, "SHIPIT_HOSTS": config.hosts.joined(separator: ","),
                "SHIPIT_DEPLOY_TO": config.deployTo, "SHIPIT_OUTCOME": machine.phase.rawValue]
    }

    func runHook(_ name: String, release: String) -> Bool {
        let (ok, output) = hooks.run(name, env: hookEnv(release))
        if !ok || !output.isEmpty {
            notify(DeployNotice(host: nil, step: "hook \(name)", status: ok ? .info : .failed, message: output))
        }
        return ok
    }

    func historyLine(event: String, release: String, previous: String?) -> String {
        let obj: [String: String] = [
            "time": ISO8601DateFormatter().string(from: Date()), "event": event, "app": config.app,
            "release": release, "previous": previous ?? "", "attempt": holder,
            "by": deployer,
        ]
        let data = (try? JSONSerialization.data(withJSONObject: obj, options: [.sortedKeys])) ?? Data("{}".utf8)
        return String(decoding: data, as: UTF8.self)
    }

    func startEnv(_ host: String) -> [(String, String)] {
        var env = [("SHIPIT_APP", config.app), ("SHIPIT_HOST", host)]
        if let h = config.health { env += [("PORT", String(h.port)), ("SHIPIT_BIND", h.address ?? host)] }
        return env
    }

    // MARK: shared steps

    /// Pre-flight on every host; returns false (after releasing any lock taken) if any host failed.
    func preflight(requiredKB: Int64) async -> Bool {
        let cmd = commands.preflight(lockInfo: lockInfo, lockWaitSeconds: options.lockWaitSeconds, requiredKB: requiredKB)
        let results = await phase("preflight", on: config.hosts) { [self] host in await remote(host, cmd) }
        for (host, r) in results {
            if r.output.first("lock") == "acquired" { locked.insert(host) }
            let cur = r.output.first("current").flatMap { $0.isEmpty ? nil : $0 }
            hosts[host]?.previous = cur
            hosts[host]?.current = cur
            if r.error?.hasPrefix("deploy lock held") == true { lockHeld = true }
        }
        let failed = record(results, step: "preflight")
        if failed.isEmpty { return true }
        await releaseLocks()
        return false
    }

    func releaseLocks() async {
        await onLockedHosts(commands.unlock(holder: holder))
    }

    /// Runs a closing script (it ends by releasing our lock) on every host we locked.
    func onLockedHosts(_ cmd: RemoteCommand) async {
        _ = await Fleet.bounded(locked.sorted(), limit: config.connection.parallel) { [self] host in await remote(host, cmd) }
        locked.removeAll()
    }

    /// Feeds the outcome of `switchAndVerify` to the state machine: a failed switch step, else
    /// switch → smokeTest and then a failed probe or a signal. Leaves the machine in `.smokeTest`
    /// only when every host switched and is healthy.
    func settleSwitch(failed: [String], anySwitched: Bool) {
        if failed.contains(where: { hosts[$0]?.failedStep == "switch" }) {
            advance(.phaseFailed(anySwitched: anySwitched))
            return
        }
        advance(.phaseSucceeded)  // the probes ran right after each host's switch
        if !failed.isEmpty { advance(.phaseFailed(anySwitched: true)) }
        else if interrupt.isRaised { advance(.interrupted(anySwitched: true)) }
    }

    /// Switches `targets` to their per-host release and smoke-tests them. Returns the hosts that failed.
    func switchAndVerify(_ step: String, release: (String) -> String?, targets: [String], event: String) async -> [String] {
        var plans: [String: RemoteCommand] = [:]
        var failed: [String] = []
        for host in targets {
            guard let id = release(host) else {
                hosts[host]?.failedStep = step
                hosts[host]?.error = "no release to switch to"
                failed.append(host)
                continue
            }
            plans[host] = commands.switchTo(releaseID: id, start: config.start, env: startEnv(host),
                                            historyLine: historyLine(event: event, release: id, previous: hosts[host]?.current))
        }
        let plansCopy = plans
        let results = await phase(step, on: plans.keys.sorted()) { [self] host in await remote(host, plansCopy[host]!) }
        for (host, r) in results { if let s = r.output.first("switched") { hosts[host]?.current = s } }
        failed += record(results, step: step)
        guard let health = config.health else { return failed.sorted() }
        let probe = HealthProbe(health: health, transport: transport)
        let healthy = results.filter { $0.value.ok }.map(\.key).sorted()
        let checks = await phase("\(step == "switch" ? "smoke test" : "smoke test (\(step))")", on: healthy) { [interrupt] host in
            let r = await probe.check(host: host, interrupt: interrupt)
            return (r.healthy, ScriptOutput(""), r.detail)
        }
        failed += record(checks, step: "smoke test")
        return failed.sorted()
    }

    func report(operation: String, release: String, started: ContinuousClock.Instant) -> DeployReport {
        DeployReport(operation: operation, app: config.app, releaseID: release, phase: machine.phase, failedIn: failedIn,
                     interrupted: interrupt.isRaised, lockHeld: lockHeld, hosts: config.hosts.compactMap { hosts[$0] },
                     seconds: ExecRunner.seconds(ContinuousClock.now - started))
    }
}
