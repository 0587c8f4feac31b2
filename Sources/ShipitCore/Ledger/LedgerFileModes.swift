import FoundationEssentials
import Glibc
import ShipitSupport

/// The SQLite ledger's modes, checked each time it is opened, not only when it is created: it
/// holds every run's record (who deployed what, errors, changed files), and a file copied, restored
/// from a backup or created by an older shipit can be readable by everyone on the machine.
/// The file and its `-wal`/`-shm` are tightened to 0600, shipit's own `.shipit` directory to 0700;
/// a directory chosen by the user (`ledger: {path: …}`) is not changed, only reported.
/// Returns what it did or could not do, one line each, for a warning.
public enum LedgerFileModes {
    public static let fileMode: mode_t = 0o600
    public static let directoryMode: mode_t = 0o700

    public static func enforce(ledgerPath path: String) -> [String] {
        var notes: [String] = []
        for file in [path, path + "-wal", path + "-shm"] {
            if let note = tighten(file, to: fileMode) { notes.append(note) }
        }
        let dir = FilePath.directory(of: path)
        guard !dir.isEmpty else { return notes }
        if FilePath.lastComponent(of: dir) == ".shipit" {
            if let note = tighten(dir, to: directoryMode) { notes.append(note) }
        } else if let mode = mode(of: dir), mode & 0o022 != 0 {
            notes.append(
                "the ledger's directory \(dir) is writable by others (mode \(octal(mode))): they can replace the ledger"
            )
        }
        return notes
    }

    /// The shared ledger's password file (`ledger.password_file`): said when others can read it.
    /// Not changed: it is the user's file, perhaps shared on purpose with a group (a secrets mount).
    public static func passwordFileNote(_ path: String) -> String? {
        guard let mode = mode(of: path), mode & 0o044 != 0 else { return nil }
        return
            "the shared ledger's password file \(path) is readable by \(mode & 0o004 != 0 ? "everyone" : "its group") (mode \(octal(mode))): chmod 600 it"
    }

    /// nil when `path` is missing or already has no group or other bits.
    static func tighten(_ path: String, to wanted: mode_t) -> String? {
        guard let mode = mode(of: path), mode & 0o077 != 0 else { return nil }
        guard chmod(path, wanted) == 0 else {
            return
                "\(path) has mode \(octal(mode)) (readable by others) and cannot be changed to \(octal(wanted)): \(String(cString: strerror(errno)))"
        }
        return "\(path) had mode \(octal(mode)); changed to \(octal(wanted)) (the ledger is private to its owner)"
    }

    static func mode(of path: String) -> mode_t? {
        var st = stat()
        guard stat(path, &st) == 0 else { return nil }
        return st.st_mode & 0o7777
    }

    static func octal(_ mode: mode_t) -> String { "0" + String(mode, radix: 8) }
}
