import FoundationEssentials

/// `shipit sync`: which hosts to bring to the fleet's release — the release of the newest
/// successful deploy or rollback in the ledger — and which to leave alone: those already on it,
/// those that cannot be reached, and those on a release the ledger never recorded (someone's hand
/// was there: reported, not overwritten, unless `--force`).
public struct SyncPlan: Sendable, Equatable {
    public struct Foreign: Sendable, Equatable {
        public var host: String
        public var release: String

        public init(host: String, release: String) {
            self.host = host
            self.release = release
        }
    }

    public var target: String
    public var onTarget: [String] = []
    /// On another release the ledger knows, or on none: what the sync moves.
    public var behind: [String] = []
    public var foreign: [Foreign] = []
    public var unreachable: [String: String] = [:]

    /// A host the release can be copied from.
    public var donor: String? { onTarget.first }

    public static func make(target: String, hosts: [HostInspection], known: Set<String>, force: Bool) -> SyncPlan {
        var p = SyncPlan(target: target)
        for h in hosts {
            guard h.reachable else {
                p.unreachable[h.host] = h.error ?? "unreachable"
                continue
            }
            switch h.current {
            case target?: p.onTarget.append(h.host)
            case let other? where !known.contains(other) && !force:
                p.foreign.append(Foreign(host: h.host, release: other))
            default: p.behind.append(h.host)
            }
        }
        return p
    }

    /// The newest deploy or rollback that succeeded (its release is the fleet's): not a
    /// maintenance switch, which the ledger records too. `attempts` oldest first, as the ledger gives them.
    public static func fleetAttempt(_ attempts: [LedgerAttempt]) -> LedgerAttempt? {
        attempts.last {
            $0.outcome == .succeeded && !$0.releaseID.isEmpty && DeployOperation(rawValue: $0.operation) != nil
        }
    }

    /// Every release id `attempts` recorded.
    public static func knownReleases(_ attempts: [LedgerAttempt]) -> Set<String> {
        Set(attempts.map(\.releaseID))
    }
}
