/// Commands run in the serving release (`shipit exec --release current`): in its directory with the
/// environment the app's start command gets (the release's env file, PORT, SHIPIT_BIND,
/// SHIPIT_RELEASE…), or in the container serving it.
public enum CurrentRelease {
    /// `command` (shell text) wrapped to run in the serving release on `host`: in its directory
    /// (symlink), or in its serving container (image).
    public static func command(_ command: String, host: String, config: DeployConfig?) throws -> String {
        guard let config else {
            throw ShipitError.input("--release current: needs the config (shipit.yml) that says where the app is")
        }
        if config.strategy == .image, let image = config.image {
            return ImageStrategy(config: config, image: image).inCurrentRelease(host: host, command: command)
        }
        return SymlinkStrategy(config: config).inCurrentRelease(host: host, command: command)
    }
}
