import Foundation

/// Runs deployer-side hooks: executables named after the moment (`pre-flight`, `pre-switch`,
/// `post-switch`, `post-deploy`, `on-rollback`) in the hooks directory.
public struct Hooks: Sendable {
    public static let names = ["pre-flight", "pre-switch", "post-switch", "post-deploy", "on-rollback"]
    public let directory: String

    public init(directory: String) { self.directory = directory }

    /// Returns nil when the hook is absent or succeeded, else the failure text.
    public func run(_ name: String, env: [String: String]) -> String? {
        precondition(Self.names.contains(name))
        let path = directory + "/" + name
        guard FileManager.default.isExecutableFile(atPath: path) else { return nil }
        var environment = ProcessInfo.processInfo.environment
        environment.merge(env) { $1 }
        do {
            let (status, out) = try LocalProcess.runStatus([path], env: environment)
            return status == 0 ? nil : "hook \(name) exited \(status): \(out.suffix(500))"
        } catch {
            return "hook \(name) could not run: \(error)"
        }
    }
}
