extension DeployConfig {
    /// Where a role process's output is read from: its own `logs` setting (`container`: the role's
    /// own container), else its container's log (image strategy) or the log file it writes.
    public func logSource(of process: ProcessRole) -> LogSettings.Source {
        let container = LogSettings.Source.namedContainer("\(app)-\(process.name)")
        switch (process.logSource, strategy) {
        case (.container?, _): return container
        case (let source?, _): return source
        case (nil, .image): return container
        case (nil, .symlink): return .file(process.log)
        }
    }
}
