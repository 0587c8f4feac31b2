/// The steps shipit runs on a host, as data carried by each `RemoteCommand`.
public enum HostStep: String, Sendable, Equatable, CaseIterable {
    case preflight, extract, create, warm, `switch`, retreat, finish, abandon, unlock, inventory, inspect, forceUnlock,
        maintenance, config, releaseCopy, frontDoor
    case migrationStatus, migrationFetch, migrate, triage, check, logs, roleCheck
}
