/// What a strategy's remote scripts must provide to the shared state machine: lock-taking
/// pre-flight, the atomic switch, the closing scripts and the inventory. `SymlinkCommands` and
/// `ImageCommands` implement it; only the commands differ, never the orchestration.
public protocol ReleaseCommands: Sendable {
    var layout: HostLayout { get }
    func switchTo(releaseID: String, start: String?, env: [(String, String)], historyLine: String) -> RemoteCommand
    func finish(keep: Int, previous: String?, holder: String, historyLine: String?) -> RemoteCommand
    func abandon(releaseID: String, keepForInspection: Bool, holder: String, historyLine: String?) -> RemoteCommand
    func unlock(holder: String, historyLine: String?) -> RemoteCommand
    /// `current=`, `release=` (oldest first), `failed=`, `lock.*=` lines.
    func inventory() -> RemoteCommand
    func inspect(verify: Bool, historyLines: Int) -> RemoteCommand
    func forceUnlock() -> RemoteCommand
}

extension SymlinkCommands: ReleaseCommands {}

public enum StrategyCommands {
    public static func make(_ config: DeployConfig) -> ReleaseCommands {
        if config.strategy == .image, let image = config.image {
            return ImageCommands(layout: config.layout, app: config.app, image: image, timeout: config.connection.commandTimeout)
        }
        return SymlinkCommands(layout: config.layout, timeout: config.connection.commandTimeout)
    }
}
