import FoundationEssentials

/// Where every host of one run stands, and the run-wide facts the report needs. Only the run's
/// driver changes it, between phases, by applying the changes they return (`RunChange`).
struct RunState: Sendable {
    private(set) var hosts: [String: DeployReport.HostResult]
    let order: [String]
    /// Hosts whose lock this run holds (released by the closing script).
    var locked: Set<String> = []
    /// Another run holds the lock (exit 6).
    var lockHeld = false
    /// The shared ledger's run lock is ours (released in the report).
    var sharedLockTaken = false
    /// The phase the run was in when it failed.
    var failedIn: DeployPhase?
    /// Hosts whose proxy sends a share of the requests to the new release (a request step).
    private(set) var splitShares: [String: Int] = [:]

    init(hosts: [String]) {
        order = hosts
        self.hosts = Dictionary(uniqueKeysWithValues: hosts.map { ($0, DeployReport.HostResult(host: $0)) })
    }

    subscript(host: String) -> DeployReport.HostResult? { hosts[host] }

    mutating func fail(host: String, step: String, error: String?) {
        hosts[host]?.failedStep = step
        hosts[host]?.error = error
    }

    mutating func failAll(step: String, error: String) {
        for h in order { fail(host: h, step: step, error: error) }
    }

    /// Records each failed result; returns the failed hosts, sorted.
    mutating func record(_ results: [String: StepResult], step: String) -> [String] {
        var failed: [String] = []
        for (host, r) in results where !r.ok {
            fail(host: host, step: step, error: r.error)
            failed.append(host)
        }
        return failed.sorted()
    }

    /// Pre-flight read the host's current release: it is both where it was and where it is.
    mutating func found(host: String, current: String?) {
        hosts[host]?.previous = current
        hosts[host]?.current = current
    }

    /// A resumed rollout: where the host was before the rollout, and when it switched (from the
    /// ledger; pre-flight only saw where it is now).
    mutating func restore(host: String, previous: String?, switchedAt: Date?) {
        hosts[host]?.previous = previous
        if let switchedAt { hosts[host]?.switchedAt = switchedAt }
    }

    /// The rollout step (1-based) the host belongs to.
    mutating func planned(host: String, step: Int) { hosts[host]?.rolloutStep = step }

    /// A switch script reported back (on `slot`, with a traffic switch).
    mutating func switched(host: String, to id: String, slot: Int? = nil, at time: Date = Date()) {
        if hosts[host]?.switchedAt == nil { hosts[host]?.switchedAt = time }
        if let slot, let old = hosts[host]?.slot, old != slot {
            // The release that served traffic stays warm on its slot.
            let was = hosts[host]?.current
            hosts[host]?.standby = was
            hosts[host]?.standbySlot = old
        }
        hosts[host]?.current = id
        hosts[host]?.switchingTo = nil
        if let slot { hosts[host]?.slot = slot }
    }

    /// A host with no previous release left the failed one: its app stopped, `current` gone.
    mutating func retreated(host: String, from id: String, stopped: Bool) {
        hosts[host]?.current = nil
        hosts[host]?.switchingTo = nil
        hosts[host]?.slot = nil
        hosts[host]?.retreatedFrom = id
        hosts[host]?.appStopped = stopped
    }

    /// Pre-flight read the slots: which one serves traffic, and which release runs warm on the other.
    mutating func foundSlots(host: String, active: Int?, standby: String?, standbySlot: Int?) {
        hosts[host]?.slot = active
        hosts[host]?.standby = standby
        hosts[host]?.standbySlot = standby == nil ? nil : standbySlot
    }

    /// The connection failed while a switch ran: the host may be on either release. It counts as
    /// switched, so the rollback goes there and finds out.
    mutating func switchUnknown(host: String, to id: String) {
        guard hosts[host]?.current != id, hosts[host]?.switchingTo == nil else { return }
        hosts[host]?.switchingTo = id
    }

    /// A failed host whose switch outcome is unknown says so in its error (whatever failed last).
    mutating func explainUnknown(host: String) {
        guard let h = hosts[host], let maybe = h.switchingTo else { return }
        hosts[host]?.error =
            "\(h.error ?? "connection failed"); outcome unknown: on \(h.current ?? "no release") or \(maybe)"
    }

    /// Hosts no longer on the release they started on (or maybe not: `switchingTo`).
    var switchedHosts: [String] {
        order.filter { h in hosts[h].map { $0.current != $0.previous || $0.switchingTo != nil } ?? false }
    }

    /// Hosts a request step split and nothing has sent back yet.
    var splitHosts: [String] { order.filter { (splitShares[$0] ?? 0) > 0 } }

    mutating func split(host: String, share: Int) { splitShares[host] = share }

    /// Some host serves the new release (switched, or a share of its requests): a failure from
    /// here on rolls back.
    var anySwitched: Bool { !switchedHosts.isEmpty || !splitHosts.isEmpty }

    /// What the ledger knows of a host.
    func ledgerState(_ host: String) -> LedgerHostState {
        let h = hosts[host]
        let status =
            h?.switchingTo != nil
            ? "unknown" : h?.retreatedFrom != nil ? "stopped" : h?.failedStep == nil ? nil : "failed"
        return LedgerHostState(
            host: host, previous: h?.previous, current: h?.current, step: h?.failedStep, status: status,
            error: h?.error,
            slot: h?.slot, standby: h?.standby, rolloutStep: h?.rolloutStep, switchedAt: h?.switchedAt)
    }

    var results: [DeployReport.HostResult] { order.compactMap { hosts[$0] } }
}
