import FoundationEssentials
import SSH

/// Runs deployer-side hooks: executables named after the moment (`pre-flight`, `pre-switch`,
/// `post-switch`, `post-deploy`, `on-rollback`) in the hooks directory.
public struct Hooks: Sendable {
    public static let names = ["pre-flight", "pre-switch", "post-switch", "post-deploy", "on-rollback"]
    public let directory: String

    /// How much of a hook's output is kept (its end): enough to say why it failed.
    public static let outputLimit = 16 * 1024

    public init(directory: String) { self.directory = directory }

    public func exists(_ name: String) -> Bool {
        FileManager.default.isExecutableFile(atPath: directory + "/" + name)
    }

    /// Returns whether the hook is absent or succeeded, and what it printed (or why it failed).
    public func run(_ name: String, env: [String: String]) async -> (ok: Bool, output: String) {
        precondition(Self.names.contains(name))
        let path = directory + "/" + name
        guard FileManager.default.isExecutableFile(atPath: path) else { return (true, "") }
        var environment = ProcessInfo.processInfo.environment
        environment.merge(env) { $1 }
        do {
            let (status, out) = try await LocalProcess.runStatusDetached(
                [path], env: environment, keepTail: Self.outputLimit)
            let text = out.trimmed()
            return status == 0 ? (true, text) : (false, "exited \(status): \(text.suffix(500))")
        } catch {
            return (false, "could not run: \(error)")
        }
    }
}
