import SSH

/// Error text for per-host lines, which already start with the host name.
public enum ErrorText {
    public static func withoutHost(_ error: Error) -> String {
        if let e = error as? SSHError { return "\(e.operation): \(e.message)" }
        return "\(error)"
    }
}
