import Foundation
import TestSupport
import Testing

@testable import ShipitCore

/// `role_alive` in a real shell: a role's process group is alive while any member that is not a
/// zombie runs, whether its leader still runs (answered from the leader alone), has exited, or
/// is a zombie; and it says nothing on stderr either way.
@Suite("role_alive: a role's process group, read from its leader first")
struct RoleAliveTests {
    @Test func aGroupIsAliveWhileAnyMemberRunsAndQuietWhenItsLeaderIsGone() async throws {
        let dir = Local.tempDir("role-alive")
        let script =
            RoleScript.alive.definition + "\n"
                + #"""
                d=$1
                exec 2>"$d/stderr"
                # A leader that stays, then one that exits and leaves its child in the group.
                setsid sh -c 'echo $$ > "$1/stay"; exec sleep 30' sh "$d" &
                setsid sh -c 'sleep 30 & echo $! > "$1/child"; echo $$ > "$1/gone"' sh "$d" &
                n=0; while { [ ! -s "$d/stay" ] || [ ! -s "$d/child" ] || [ ! -s "$d/gone" ]; } && [ $n -lt 200 ]; do sleep 0.02; n=$((n + 1)); done
                sleep 0.2
                s=$(cat "$d/stay"); g=$(cat "$d/gone")
                if role_alive "$s"; then echo "stay=alive"; else echo "stay=dead"; fi
                if role_alive "$g"; then echo "gone=alive"; else echo "gone=dead"; fi
                kill -KILL -"$s" "$(cat "$d/child")"
                sleep 0.2
                if role_alive "$s"; then echo "stay.after=alive"; else echo "stay.after=dead"; fi
                if role_alive "$g"; then echo "gone.after=alive"; else echo "gone.after=dead"; fi
                if role_alive ""; then echo "empty=alive"; else echo "empty=dead"; fi
                """#
        let (status, out) = try await LocalProcess.runStatusDetached(["/bin/sh", "-c", script + "\n", "sh", dir])
        #expect(status == 0, "\(out)")
        let facts = ScriptOutput(out)
        #expect(facts.first("stay") == "alive", "\(out)")
        #expect(facts.first("gone") == "alive", "the leader exited, its child runs: \(out)")
        #expect(facts.first("stay.after") == "dead" && facts.first("gone.after") == "dead", "\(out)")
        #expect(facts.first("empty") == "dead")
        let stderr = try String(contentsOfFile: dir + "/stderr", encoding: .utf8)
        #expect(stderr.isEmpty, "\(stderr)")
    }
}
