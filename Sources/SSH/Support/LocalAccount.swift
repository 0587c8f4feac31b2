import FoundationEssentials
import Glibc

/// The deployer's own account: its login name and home directory.
public enum LocalAccount {
    /// `$HOME`, else the password database's home of this user.
    public static var home: String {
        if let h = ProcessInfo.processInfo.environment["HOME"], !h.isEmpty { return h }
        if let pw = getpwuid(getuid()), let dir = pw.pointee.pw_dir { return String(cString: dir) }
        return "/"
    }

    /// The password database's name of this user (`$USER` is the caller's to consult first).
    public static var name: String {
        if let pw = getpwuid(getuid()), let n = pw.pointee.pw_name { return String(cString: n) }
        return String(getuid())
    }
}
