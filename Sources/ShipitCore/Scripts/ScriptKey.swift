/// The fixed keys of the `key=value` facts host scripts print, with the shape each value must have
/// (`HostValue`): what the Swift side reads, by name, through `ScriptOutput`. Keys with a name or
/// port inside (`slot.8081`, `role.worker.ok`, `check.db`) are shaped by `HostValue.shape(of:)`.
public enum ScriptKey: String, CaseIterable, Sendable {
    case error, note
    // Releases.
    case current, previous, switched, extracted, started, retreated, pruned, release, failed, created, warmed
    case digest, changed, change, stopped, files, modified, added, history, container, maintenance
    // The deploy lock.
    case lock
    case lockHolder = "lock.holder"
    case lockStale = "lock.stale"
    case lockPID = "lock.pid"
    case lockBy = "lock.by"
    case lockStarted = "lock.started"
    case lockReason = "lock.reason"
    // The traffic switch.
    case slot
    case slotActive = "slot.active"
    case warmExit = "warm.exit"
    case stoppedSlot = "stopped.slot"
    case proxyAdoptedMS = "proxy.adopted.ms"
    case proxyRetiredMS = "proxy.retired.ms"
    // The supervisor: `systemd` or `none` (what a pre-flight found; what the host's last one
    // recorded, in the inventory), why `auto` found none, what could not be enabled, a failed
    // question to systemctl. Each unit's state is `unit.KIND=` (`unit.slot`, `unit.proxy`,
    // `unit.app`, `unit.role.NAME`), shaped by `HostValue.shape(of:)`.
    case supervisor
    case supervisorWhy = "supervisor.why"
    case supervisorWarning = "supervisor.warning"
    case supervisorError = "supervisor.error"
    // `shipit check`: whether systemd is the host's init, the answer of the manager shipit's units
    // would run under, whether the deploy user lingers, and what `--fix` did about it.
    case supervisorInit = "supervisor.init"
    case supervisorManager = "supervisor.manager"
    case linger
    case lingerFixed = "linger.fixed"
    case lingerFixFailed = "linger.fixfailed"
    // `shipit check` and triage.
    case clock, user, existing, writable, layout, tool, fixed, fixfailed
    case diskKB = "diskkb"
    case diskAvailKB = "disk.avail_kb"
    case diskMount = "disk.mount"
    case cpus
    case fdsUsed = "fds.used"
    // Migrations.
    case applied, mfile, mfiles
    case schemaError = "schema.error"

    /// The shape the value must have before anything uses it.
    public var shape: HostValue.Shape {
        switch self {
        case .current, .previous: return .releaseID(emptyAllowed: true)
        case .switched, .extracted, .started, .retreated, .pruned, .release, .failed, .created, .warmed:
            return .releaseID(emptyAllowed: false)
        case .digest: return .digest
        case .lockHolder, .lockStale: return .holder
        case .supervisor, .supervisorInit, .linger: return .word
        case .changed, .slot, .slotActive, .warmExit, .diskKB, .diskAvailKB, .lockPID, .stoppedSlot, .cpus, .fdsUsed,
            .proxyAdoptedMS, .proxyRetiredMS:
            return .integer
        default: return .text
        }
    }
}

extension ScriptOutput {
    public func first(_ key: ScriptKey) -> String? { first(key.rawValue) }
    public func all(_ key: ScriptKey) -> [String] { all(key.rawValue) }
}
