/// The fixed keys of the `key=value` facts host scripts print, with the shape each value must have
/// (`HostValue`): what the Swift side reads, by name, through `ScriptOutput`. Keys with a name or
/// port inside (`slot.8081`, `role.worker.ok`, `check.db`) are shaped by `HostValue.shape(of:)`.
public enum ScriptKey: String, CaseIterable, Sendable {
    case error, note
    // Releases.
    case current, previous, switched, extracted, started, retreated, pruned, release, failed, created, warmed
    case digest, changed, change, stopped, files, modified, added, history, container, maintenance
    /// A release a delta may copy from: `<id> <sha256 of its manifest>`.
    case kept
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
    /// A host's role check carried at the end of its rollback's switch script.
    case checkExit = "check.exit"
    case stoppedSlot = "stopped.slot"
    case proxyAdoptedMS = "proxy.adopted.ms"
    case proxyRetiredMS = "proxy.retired.ms"
    /// A warm-up that found the release already running on its slot.
    case reused
    /// What the pre-flight did about the proxy: `running`, `deferred`, `started` or `system`.
    case proxy
    /// The front door's step: `running` or `started`; whether this app's servers changed; whether
    /// the app's own proxy was retired for it.
    case front
    case frontChanged = "front.changed"
    case proxyMoved = "proxy.moved"
    /// A port the app's own proxy shared with the front door for the move: the host's
    /// `net.ipv4.tcp_migrate_req` (1: connections queued at the own proxy's socket move over).
    case frontHandover = "front.handover"
    /// The slot the proxy was pointed at again, when the upstream and the recorded switch disagreed.
    case proxyReconciled = "proxy.reconciled"
    /// `SLOT EPOCH`: when the warm standby on that slot is stopped (`traffic.standby: SECONDS`).
    case standbyUntil = "standby.until"
    // The supervisor: `systemd` or `none` (what a pre-flight found; what the host's last one
    // recorded, in the inventory), why `auto` found none, what could not be enabled, a failed
    // question to systemctl. Each unit's state is `unit.KIND=` (`unit.slot`, `unit.proxy`,
    // `unit.app`, `unit.role.NAME`), shaped by `HostValue.shape(of:)`.
    case supervisor
    case supervisorWhy = "supervisor.why"
    case supervisorWarning = "supervisor.warning"
    case supervisorError = "supervisor.error"
    /// The unit prefix whose units a host without a supervisor no longer starts at boot.
    case supervisorRetired = "supervisor.retired"
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
    // Triage's resource facts, from df, /proc/meminfo, /proc/loadavg and /proc/sys/fs/file-nr.
    case diskUsedPercent = "disk.used_pct"
    case inodesUsedPercent = "inodes.used_pct"
    case memTotalKB = "mem.total_kb"
    case memAvailableKB = "mem.available_kb"
    case load1 = "load.1"
    case load5 = "load.5"
    case fdsMax = "fds.max"
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
        case .supervisor, .supervisorInit, .linger, .proxy, .supervisorRetired, .front, .proxyMoved: return .word
        case .changed, .slot, .slotActive, .warmExit, .checkExit, .diskKB, .diskAvailKB, .lockPID, .stoppedSlot, .cpus,
            .fdsUsed,
            .proxyAdoptedMS, .proxyRetiredMS, .reused, .proxyReconciled, .diskUsedPercent, .inodesUsedPercent,
            .memTotalKB, .memAvailableKB, .frontChanged, .frontHandover:
            return .integer
        // Load averages have a fraction. `fds.max` is the kernel's file-max: LONG_MAX (19 digits)
        // where systemd raised it, more digits than an integer value may have; triage only divides by it.
        case .load1, .load5, .fdsMax: return .decimal
        case .standbyUntil: return .integers(count: 2)
        default: return .text
        }
    }
}

extension ScriptOutput {
    public func first(_ key: ScriptKey) -> String? { first(key.rawValue) }
    public func all(_ key: ScriptKey) -> [String] { all(key.rawValue) }
}
