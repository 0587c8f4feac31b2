import Glibc

/// The local terminal of `exec -t`: its size, and raw mode while a remote terminal owns it
/// (keystrokes such as Ctrl-C go to the remote program, not to shipit).
enum LocalTerminal {
    static func isTerminal(_ fd: Int32) -> Bool { isatty(fd) == 1 }

    /// Columns and rows of the terminal on `fd`, else $COLUMNS/$LINES, else 80×24.
    static func size(_ fd: Int32 = 1) -> (columns: Int, rows: Int) {
        var ws = winsize()
        if ioctl(fd, UInt(TIOCGWINSZ), &ws) == 0, ws.ws_col > 0, ws.ws_row > 0 {
            return (Int(ws.ws_col), Int(ws.ws_row))
        }
        let env = { (name: String) in getenv(name).flatMap { Int(String(cString: $0)) } }
        return (env("COLUMNS") ?? 80, env("LINES") ?? 24)
    }

    /// Puts `fd` in raw mode and returns what restores it (nil when `fd` is not a terminal).
    static func makeRaw(_ fd: Int32 = 0) -> (() -> Void)? {
        guard isTerminal(fd) else { return nil }
        var saved = termios()
        guard tcgetattr(fd, &saved) == 0 else { return nil }
        var raw = saved
        cfmakeraw(&raw)
        guard tcsetattr(fd, TCSANOW, &raw) == 0 else { return nil }
        return {
            var s = saved
            _ = tcsetattr(fd, TCSANOW, &s)
        }
    }
}
