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

    /// The login name as ssh uses it: `$USER` (of `environment`) when set, else the password
    /// database's name.
    public static func user(_ environment: [String: String] = ProcessInfo.processInfo.environment) -> String {
        if let u = environment["USER"], !u.isEmpty { return u }
        return name
    }

    /// The password database's name of this user.
    public static var name: String {
        if let pw = getpwuid(getuid()), let n = pw.pointee.pw_name { return String(cString: n) }
        return String(getuid())
    }
}
