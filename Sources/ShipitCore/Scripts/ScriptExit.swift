/// The exit statuses of shipit's host scripts, one list for the scripts (`fail \(ScriptExit.x)`)
/// and for Swift (a held lock is told by its status, not its message). Grouped by tens: 1x the
/// host itself, 2x the artifact, 3x the switch and the app, 4x migrations, 5x the proxy, 6x role
/// processes, 7x the supervisor; 75 is sysexits' "temporary failure" (try again once the lock is free).
public enum ScriptExit: Int32, CaseIterable, Sendable, CustomStringConvertible {
    /// A usage error in a script's own arguments.
    case usage = 2
    /// `shipit check`: the check script itself could not run.
    case checkFailed = 6
    case notWritable = 10
    case missingTool = 11
    case diskFull = 12
    case sharedMissing = 13
    case pullFailed = 14
    case noDigest = 15
    case checksum = 20
    case extractFailed = 21
    case manifestFailed = 22
    /// A file sent on stdin or uploaded could not be put in its place.
    case fileNotPlaced = 24
    case releaseNotMoved = 25
    case needsGNUTar = 26
    case sharedIsSymlink = 27
    case sharedNowhere = 28
    /// A delta could not be built from the host's kept releases as the artifact has it: the
    /// deployer sends that host the whole artifact instead.
    case deltaMismatch = 29
    case releaseMissing = 30
    case switchFailed = 31
    case startFailed = 32
    case stopFailed = 33
    case createFailed = 34
    case slotServesTraffic = 35
    case noPidFile = 36
    case slotNotRunning = 37
    case imageMissing = 38
    case migrationsUnreadable = 40
    case migrationsDatabase = 41
    case migrationsRecord = 42
    case migrationFailed = 43
    case migrationsCopy = 44
    case proxyConfigInvalid = 50
    case proxyConfigInvalidAfterSwitch = 51
    case proxyReloadFailed = 52
    case proxyStartFailed = 53
    case maintenanceUnavailable = 54
    /// The front door already has this app's name from another deploy_to, or one of its host names
    /// from another app.
    case frontDoorConflict = 55
    case roleStartFailed = 60
    case roleCheckFailed = 61
    /// `supervisor: systemd` on a host where systemd (or the user's manager, or lingering) is not there.
    case supervisorUnavailable = 70
    /// A unit file could not be installed, or systemd could not reload or start a unit.
    case unitFailed = 71
    case locked = 75

    /// The number, as the scripts write it.
    public var description: String { String(rawValue) }
}
