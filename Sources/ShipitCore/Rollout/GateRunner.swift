import FoundationEssentials
import SSH

/// Samples every gate of a rollout once, for the hosts switched so far: health through each
/// host's SSH session, http and Prometheus from the deployer, commands on the deployer with
/// `SHIPIT_*` in their environment. Gates run concurrently; a sample never throws (a gate that
/// cannot be checked fails its sample, saying why).
struct GateRunner: Sendable {
    let gates: [RolloutGate]
    let health: DeployConfig.Health?
    let transport: HostTransport
    /// SHIPIT_APP, SHIPIT_RELEASE… for command gates.
    let environment: [String: String]
    /// The run's strategy: which hosts run the app (health and `{host}` http gates) and the check of
    /// each host's role processes, part of its health sample (nil: every host runs the app alone).
    var strategy: ReleaseStrategy?

    func runsApp(_ host: String) -> Bool { strategy?.roles.runsApp(host) ?? true }

    struct Context: Sendable {
        /// Every host switched so far (all steps up to this one).
        var switched: [String]
        /// The hosts of this step.
        var stepHosts: [String]
        var step: Int
        var steps: Int
        /// A request step: its share, the hosts whose requests are split, and the two releases'
        /// names (the new one, and the one serving the rest).
        var share: Int? = nil
        var splitHosts: [String] = []
        var canary = ""
        var baseline = ""
    }

    func sample(_ c: Context) async -> [GateSample] {
        await withTaskGroup(of: (Int, [GateSample]).self) { group in
            for (i, gate) in gates.enumerated() { group.addTask { (i, await self.sample(gate, c)) } }
            var byGate: [Int: [GateSample]] = [:]
            for await (i, s) in group { byGate[i] = s }
            return gates.indices.flatMap { byGate[$0] ?? [] }
        }
    }

    func sample(_ gate: RolloutGate, _ c: Context) async -> [GateSample] {
        switch gate.kind {
        case .health: return await healthSamples(gate, c.switched)
        case .http(let url, let json, let max):
            guard url.contains("{host}") else { return [await http(gate, host: nil, url: url, json: json, max: max)] }
            return await Self.perHost(c.switched.filter(runsApp)) { host in
                // An ssh_config alias means nothing to an HTTP client: its address does.
                await self.http(
                    gate, host: host, url: url.replacing("{host}", with: self.health?.hostAddresses[host] ?? host),
                    json: json, max: max)
            }
        case .command(let run): return [await command(gate, run, c)]
        case .proxy(let limits, _): return [await proxy(gate, limits, c)]
        case .prometheus(let url, let query, let max, let emptyPasses):
            return [
                await prometheus(
                    gate, base: url, query: Self.substitute(query, c, addresses: health?.hostAddresses ?? [:]),
                    max: max, emptyPasses: emptyPasses)
            ]
        }
    }

    /// `{hosts}` → a regex matching the switched hosts (for `instance=~"…"`), `{step_hosts}` →
    /// this step's; regex metacharacters in names escaped (a host name has only dots).
    /// `addresses`: ssh_config aliases' HostNames, which is what Prometheus knows the hosts by.
    static func substitute(_ query: String, _ c: Context, addresses: [String: String] = [:]) -> String {
        func alternation(_ hosts: [String]) -> String {
            "(" + hosts.map { (addresses[$0] ?? $0).replacing(".", with: "\\\\.") }.joined(separator: "|")
                + ")(:[0-9]+)?"
        }
        return query.replacing("{hosts}", with: alternation(c.switched))
            .replacing("{step_hosts}", with: alternation(c.stepHosts))
            .replacing("{step}", with: String(c.step))
    }

    /// Per host: live and ready (a host running the app), its role processes (one running them).
    func healthSamples(_ gate: RolloutGate, _ hosts: [String]) async -> [GateSample] {
        var h = health
        // One try per sample: the bake samples again at the next interval.
        h?.deadline = 0.01
        let requestTimeout = min(h?.requestTimeout ?? 2, gate.timeout)
        h?.requestTimeout = requestTimeout
        let probe = h.map { HealthProbe(health: $0, transport: transport) }
        let hasRoles = { (host: String) in !(strategy?.roles.processes(on: host).isEmpty ?? true) }
        return await Self.perHost(hosts.filter { (probe != nil && runsApp($0)) || hasRoles($0) }) { host in
            var said: [String] = []
            if let probe, runsApp(host) {
                let r = await probe.check(host: host)
                guard r.healthy else {
                    return GateSample(gate: gate.name, type: gate.type, ok: false, host: host, detail: r.detail)
                }
                said.append("live and ready")
            }
            if let strategy, var check = strategy.roleCheck(host: host, deadline: 0, interval: 0.1) {
                check.timeout = gate.timeout
                let probes = await FleetInspector.checkRoles(
                    transport, host: host, check, names: strategy.roles.processes(on: host).map(\.name))
                if let bad = probes.first(where: { !$0.ok }) {
                    return GateSample(gate: gate.name, type: gate.type, ok: false, host: host, detail: bad.detail)
                }
                said.append("role processes running")
            }
            return GateSample(
                gate: gate.name, type: gate.type, ok: true, host: host, detail: said.joined(separator: ", "))
        }
    }

    /// One sample per host, taken concurrently, in host-name order.
    static func perHost(_ hosts: [String], _ sample: @escaping @Sendable (String) async -> GateSample) async
        -> [GateSample]
    {
        await withTaskGroup(of: GateSample.self) { group in
            for host in hosts { group.addTask { await sample(host) } }
            var out: [GateSample] = []
            for await s in group { out.append(s) }
            return out.sorted { ($0.host ?? "") < ($1.host ?? "") }
        }
    }

    func http(_ gate: RolloutGate, host: String?, url: String, json: String?, max: Double?) async -> GateSample {
        func sample(_ ok: Bool, _ value: Double?, _ detail: String) -> GateSample {
            GateSample(gate: gate.name, type: gate.type, ok: ok, value: value, host: host, detail: detail)
        }
        guard let u = URL(string: url) else { return sample(false, nil, "not a URL: \(url)") }
        do {
            let r = try await DeployerHTTP.get(u, timeout: gate.timeout)
            guard (200..<300).contains(r.status) else { return sample(false, nil, "GET \(url) → \(r.status)") }
            guard let path = json, let max else { return sample(true, nil, "GET \(url) → \(r.status)") }
            guard let doc = JSONValue.parse(r.body), let v = DeployerHTTP.number(in: doc, at: path) else {
                return sample(false, nil, "GET \(url): no number at '\(path)' in the answer")
            }
            return sample(v <= max, v, "\(path) = \(Self.format(v)) \(v <= max ? "≤" : ">") max \(Self.format(max))")
        } catch {
            return sample(false, nil, "GET \(url) → \(DeployerHTTP.describe(error))")
        }
    }

    func command(_ gate: RolloutGate, _ run: String, _ c: Context) async -> GateSample {
        var env = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        env["SHIPIT_STEP"] = String(c.step)
        env["SHIPIT_STEPS"] = String(c.steps)
        env["SHIPIT_SWITCHED_HOSTS"] = c.switched.joined(separator: ",")
        env["SHIPIT_STEP_HOSTS"] = c.stepHosts.joined(separator: ",")
        do {
            // coreutils timeout: the gate's time is bounded even if the command hangs.
            let (status, out) = try await LocalProcess.runStatusDetached(
                ["timeout", "-k", "1", String(gate.timeout), "sh", "-c", run], env: env, keepTail: 4096)
            let text = out.trimmed()
            let last = String(text.split(separator: "\n").last ?? "")
            let why = status == 124 ? "timed out after \(Self.format(gate.timeout)) s" : "exit \(status)"
            return GateSample(
                gate: gate.name, type: gate.type, ok: status == 0, value: nil, host: nil,
                detail: status == 0
                    ? (last.isEmpty ? "exit 0" : "exit 0: \(last.suffix(200))")
                    : "\(why)\(last.isEmpty ? "" : ": \(last.suffix(200))")")
        } catch {
            return GateSample(gate: gate.name, type: gate.type, ok: false, detail: "could not run: \(error)")
        }
    }

    func prometheus(_ gate: RolloutGate, base: String, query: String, max: Double, emptyPasses: Bool) async
        -> GateSample
    {
        func sample(_ ok: Bool, _ value: Double?, _ detail: String) -> GateSample {
            GateSample(gate: gate.name, type: gate.type, ok: ok, value: value, detail: detail)
        }
        var comps = URLComponents(
            string: base.hasSuffix("/") ? String(base.dropLast()) + "/api/v1/query" : base + "/api/v1/query")
        comps?.queryItems = [URLQueryItem(name: "query", value: query)]
        // '+' in a query (`a + b`) must reach Prometheus as a plus, not a space.
        let encoded = comps?.percentEncodedQuery?.replacing("+", with: "%2B")
        comps?.percentEncodedQuery = encoded
        guard let url = comps?.url else { return sample(false, nil, "not a URL: \(base)") }
        do {
            let r = try await DeployerHTTP.get(url, timeout: gate.timeout)
            let doc = JSONValue.parse(r.body)
            guard r.status == 200, doc?["status"]?.string == "success", let data = doc?["data"] else {
                let why = Redactor.standard.redact(
                    doc?["error"]?.string ?? String(decoding: r.body.prefix(200), as: UTF8.self))
                return sample(false, nil, "query failed (HTTP \(r.status)): \(why)")
            }
            // A vector: the largest sample; a scalar: its value.
            var values: [Double] = []
            if let result = data["result"]?.array, result.allSatisfy({ $0.object != nil }) {
                values = result.compactMap {
                    $0["value"].flatMap { $0.array?.count == 2 ? DeployerHTTP.number(in: $0, at: "1") : nil }
                }
            } else if let scalar = data["result"], scalar.array?.count == 2,
                let v = DeployerHTTP.number(in: scalar, at: "1")
            {
                values = [v]
            }
            guard let v = values.max() else {
                return sample(
                    emptyPasses, nil,
                    "no data for \(query)"
                        + (emptyPasses
                            ? " (on_empty: pass)"
                            : " (append `or vector(0)` if no data means zero, or set on_empty: pass)"))
            }
            guard !v.isNaN else { return sample(emptyPasses, nil, "NaN for \(query)") }
            return sample(v <= max, v, "\(Self.format(v)) \(v <= max ? "≤" : ">") max \(Self.format(max))")
        } catch {
            return sample(false, nil, "GET \(base) → \(DeployerHTTP.describe(error))")
        }
    }

    /// The proxy's records of both releases on every split host, merged (histograms added, so
    /// the percentiles are the fleet's), judged canary against baseline. A host whose records
    /// cannot be read fails the sample.
    func proxy(_ gate: RolloutGate, _ limits: ProxyVerdict.Limits, _ c: Context) async -> GateSample {
        guard let share = c.share, let traffic = strategy?.traffic, !c.splitHosts.isEmpty else {
            return GateSample(
                gate: gate.name, type: gate.type, ok: true, detail: "nothing to compare: no request split in this step")
        }
        var canary = GoldenSignals()
        var baseline = GoldenSignals()
        var unread: [String] = []
        await withTaskGroup(of: (String, ExecResult?).self) { group in
            for host in c.splitHosts {
                var command = traffic.goldenSample(host: host, timeout: gate.timeout).command
                command.timeout = gate.timeout
                group.addTask { (host, try? await self.transport.run(host, command)) }
            }
            for await (host, r) in group {
                guard let r, r.status.succeeded else {
                    unread.append(host)
                    continue
                }
                let out = ScriptOutput(r.stdoutText)
                let active = out.first("split.active").flatMap { Int($0) }
                for (slot, signals) in GoldenSignals.parse([r.stdoutText]) {
                    if slot == active { baseline.add(signals) } else { canary.add(signals) }
                }
            }
        }
        guard unread.isEmpty else {
            return GateSample(
                gate: gate.name, type: gate.type, ok: false,
                detail: "could not read the proxy's records on \(unread.sorted().joined(separator: ", "))")
        }
        let verdict = ProxyVerdict.judge(
            canary: canary, baseline: baseline, limits: limits, canaryName: c.canary, baselineName: c.baseline)
        let outcome: String
        switch verdict.outcome {
        case .pass: outcome = "pass"
        case .fail: outcome = "fail"
        case .tooFew: outcome = "too few"
        }
        var sample = GateSample(
            gate: gate.name, type: gate.type, ok: verdict.outcome != .fail, value: canary.errorRatio,
            detail: verdict.summary + (verdict.reasons.isEmpty ? "" : ": " + verdict.reasons.joined(separator: "; ")))
        sample.undecided = verdict.outcome == .tooFew
        sample.comparison = RequestComparison(
            step: c.step, share: share, canary: .init(release: c.canary, canary),
            baseline: .init(release: c.baseline, baseline), verdict: outcome, reasons: verdict.reasons)
        return sample
    }

    static func format(_ v: Double) -> String {
        v == v.rounded() && abs(v) < 1e12 ? String(Int(v)) : String(cFormat: "%.4g", v)
    }
}
