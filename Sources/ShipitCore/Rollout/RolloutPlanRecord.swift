import FoundationEssentials

/// A rollout's plan as the ledger keeps it (a `plan` event when the run starts): every step's
/// hosts and share, and the stickiness. A paused rollout is picked up from this, whatever the
/// config or the command line says by then. Pure data.
public struct RolloutPlanRecord: Sendable, Codable, Equatable {
    public var steps: [RolloutSettings.PlannedStep]
    /// `cookie`, `address`, `none` or `header:NAME`.
    public var sticky: String

    public init(steps: [RolloutSettings.PlannedStep], sticky: RequestSplit.Sticky) {
        self.steps = steps
        switch sticky {
        case .cookie: self.sticky = "cookie"
        case .address: self.sticky = "address"
        case .none: self.sticky = "none"
        case .header(let name): self.sticky = "header:" + name
        }
    }

    public var stickiness: RequestSplit.Sticky {
        if sticky.hasPrefix("header:") { return .header(String(sticky.dropFirst(7))) }
        return ["address": .address, "none": .none][sticky] ?? .cookie
    }

    public var hasRequestSteps: Bool { steps.contains { $0.share != nil } }

    /// Targets that plan the same steps again: cumulative host counts and the shares.
    public var targets: [RolloutSettings.Target] {
        var done = Set<String>()
        return steps.map { s in
            if let share = s.share { return .requests(share) }
            done.formUnion(s.hosts)
            return .count(done.count)
        }
    }

    public var json: String { LedgerJSON.encode(self) }

    /// The last `plan` event's record.
    static func find(in events: [LedgerStep]) -> RolloutPlanRecord? {
        events.last { $0.step == "plan" }?.message.flatMap { LedgerJSON.decode(Self.self, $0) }
    }

    /// `config` as the paused run had it: its request steps (and so the proxy's buckets) and
    /// stickiness, when the config or the command line no longer say so.
    public static func resumedConfig(_ config: DeployConfig, events: [LedgerStep]) -> DeployConfig {
        guard let record = find(in: events), record.hasRequestSteps else { return config }
        var c = config
        if c.rollout == nil { c.rollout = RolloutSettings.defaults(health: c.health) }
        c.rollout?.steps = record.targets
        c.rollout?.sticky = record.stickiness
        return c
    }
}
