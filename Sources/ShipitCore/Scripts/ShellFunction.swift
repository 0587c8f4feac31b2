/// A shell function a host script uses: its name, its definition, and the functions it calls. A
/// script lists the functions it calls; `HostScript` defines each of them, and what they call,
/// once, before the body. Two functions of one name in one script must be the same text.
public struct ShellFunction: Sendable, Hashable {
    public let name: String
    public let definition: String
    public let requires: [ShellFunction]

    public init(_ name: String, requires: [ShellFunction] = [], _ definition: String) {
        self.name = name
        self.requires = requires
        self.definition = definition
    }

    /// `fail STATUS MESSAGE…`: the `error=` line the orchestrator shows, then exit.
    public static let fail = ShellFunction(
        "fail",
        """
        fail() { code=$1; shift; echo "error=$*"; exit "$code"; }
        """)

    /// `short TEXT [BYTES]`: its last BYTES (400) bytes on one line (a command's output in an
    /// error line).
    public static let short = ShellFunction(
        "short",
        """
        short() { printf '%s' "$1" | tail -c "${2:-400}" | tr '\\n' ' '; }
        """)

    /// `current_id`: the release `current` points at, in `$CUR`, without a fork (`cd -P` resolves
    /// the link, a builtin; readlink only for a dangling link): every fork on every host counts in
    /// a rollback's wall time.
    public static let currentID = ShellFunction(
        "current_id",
        """
        current_id() {
          CUR=; _here=$PWD
          if cd -P "$CURRENT" 2>/dev/null; then CUR=${PWD##*/}; cd "$_here" 2>/dev/null || cd /
          elif [ -L "$CURRENT" ]; then CUR=$(readlink "$CURRENT"); CUR=${CUR##*/}; fi
        }
        """)

    /// `remove_tree PATH…`: `rm -rf`; where a read-only directory in a tree (a release may ship
    /// one) kept it from emptying that tree, the tree's read-only directories are made writable
    /// (by `find`, which follows no symbolic link, the path itself included) and it is removed
    /// again.
    public static let removeTree = ShellFunction(
        "remove_tree",
        """
        remove_tree() {
          rm -rf -- "$@" 2>/dev/null && return 0
          for _t in "$@"; do
            if [ -d "$_t" ] && [ ! -L "$_t" ]; then find "$_t" -type d ! -perm -u+w -exec chmod u+w {} + 2>/dev/null; fi
          done
          rm -rf -- "$@"
        }
        """)

    /// `eng ARGS…`: the image engine, whose words are in `$ENGINE`, each quoted (split on purpose:
    /// `podman --root …` is one engine).
    public static let engine = ShellFunction(
        "eng",
        """
        eng() { eval "$ENGINE" '"$@"'; }
        """)

    /// The `$ENGINE` variable `eng` reads: the engine's words, each quoted.
    static func engineVariable(_ engine: [String]) -> (String, String) {
        ("ENGINE", engine.map(ShellQuote.quote).joined(separator: " "))
    }

    /// `append_history`: the run's outcome line (`$HISTORY_LINE`, may be empty) in the host's history, for
    /// readers without the deployer's ledger.
    public static let appendHistory = ShellFunction(
        "append_history",
        """
        append_history() { [ -z "$HISTORY_LINE" ] || printf '%s\\n' "$HISTORY_LINE" >> "$HISTORY" || true; }
        """)

    /// `getv NAME FILE`: a one-line file read into NAME (empty if absent), with builtins only
    /// (every fork costs the host a process start, on every host at once).
    public static let getValue = ShellFunction(
        "getv",
        """
        getv() { eval "$1="; [ -f "$2" ] && read -r "$1" < "$2"; return 0; }
        """)

    /// `alive PID`: whether it runs (a zombie does not), from /proc without a fork.
    public static let alive = ShellFunction(
        "alive",
        """
        alive() {
          [ -n "$1" ] && [ -r "/proc/$1/stat" ] || return 1
          # Its own name: a caller's `$st` (a slot's state) must not become a process's stat line.
          read -r alive_stat < "/proc/$1/stat" 2>/dev/null || return 1
          case "$alive_stat" in *") Z "*) return 1 ;; esac
        }
        """)

    /// The functions in `list` and everything they call, each once, callees first.
    static func closure(_ list: [ShellFunction]) -> [ShellFunction] {
        var out: [ShellFunction] = []
        var seen: [String: ShellFunction] = [:]
        func visit(_ f: ShellFunction) {
            if let earlier = seen[f.name] {
                precondition(earlier == f, "two definitions of the shell function \(f.name) in one script")
                return
            }
            seen[f.name] = f
            f.requires.forEach(visit)
            out.append(f)
        }
        list.forEach(visit)
        return out
    }
}
