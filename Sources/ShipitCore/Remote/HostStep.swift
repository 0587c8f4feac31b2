/// The steps shipit runs on a host, as data carried by each `RemoteCommand`.
public enum HostStep: String, Sendable, Equatable, CaseIterable {
    case preflight, extract, create, `switch`, finish, abandon, unlock, inventory, inspect, forceUnlock
    case migrationStatus, migrationFetch, migrate, triage
}
