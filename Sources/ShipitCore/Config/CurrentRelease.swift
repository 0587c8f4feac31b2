/// Commands run in the serving release (`shipit exec --release current`): in its directory, with the
/// environment the app's start command gets (PORT, SHIPIT_BIND, SHIPIT_RELEASE…).
public enum CurrentRelease {
    /// `command` (shell text) wrapped to run in the serving release on `host`. Only the symlink
    /// strategy has a release directory on the host: an image's release runs in its container.
    public static func command(_ command: String, host: String, config: DeployConfig?) throws -> String {
        guard let config, config.strategy == .symlink else {
            throw ShipitError.input(
                "--release current: for the symlink strategy (an image's release runs in its container: `podman exec -it <app>-<release> …` on the host)"
            )
        }
        return SymlinkStrategy(config: config).inCurrentRelease(host: host, command: command)
    }
}
