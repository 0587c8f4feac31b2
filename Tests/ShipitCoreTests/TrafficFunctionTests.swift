import Foundation
import TestSupport
import Testing

@testable import ShipitCore

/// The traffic switch's shell functions run by a real `/bin/sh` against a temporary slots
/// directory (no nginx, no SSH): pointing the proxy at a slot and at none, in both modes, the
/// settle time a system nginx needs, and stopping a slot's real process.
@Suite("traffic switch functions run by a real /bin/sh")
struct TrafficFunctionTests {
    struct Host {
        let dir: String
        let traffic: TrafficSwitch
        var layout: HostLayout { traffic.layout }

        init(mode: String) throws {
            dir = Local.tempDir("traffic-fn") + "/srv/app"
            let system =
                mode == "system"
                ? "mode: system, upstream_file: \(dir)/upstream.conf, test: 'true', reload: 'true', "
                : "proxy: nginx, "
            let config = try DeployConfig.parse(
                yaml: """
                    app: demo
                    hosts: [h1]
                    deploy_to: \(dir)
                    start: sh start.sh
                    health: {port: 8080}
                    traffic: {\(system)slots: [8081, 8082], drain: 0.5}
                    """, directory: Local.tempDir("traffic-fn-config"))
            traffic = try #require(SymlinkStrategy(config: config).traffic)
            for d in [layout.slots, layout.proxy] {
                try FileManager.default.createDirectory(atPath: d, withIntermediateDirectories: true)
            }
        }

        /// `body` with the traffic functions and variables, as a host script; its status and output.
        func run(_ body: ScriptText) async throws -> (Int32, String) {
            let script = HostScript(
                .switch, layout: layout, timeout: nil, variables: traffic.variables(host: "h1"),
                uses: TrafficSwitch.functions + [TrafficSwitch.settled], TrafficSwitch.sbinPath + body)
            return try await LocalProcess.runStatusDetached(["/bin/sh", "-c", script.rendered])
        }

        func read(_ path: String) -> String? {
            (try? String(contentsOfFile: path, encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines)
        }
    }

    /// A slot whose process was killed and not yet reaped (a zombie: its parent has not waited
    /// for it) is stopped, and the slot's fact line says so, not the process's /proc stat line.
    @Test func aZombieSlotIsStoppedInItsFactLine() async throws {
        let h = try Host(mode: "managed")
        // A child that exits at once under a parent that never waits: a zombie for 3 s.
        let setup = ScriptText(
            #"""
            sh -c 'true & echo $! > "$1"; exec sleep 3' zombie "$SLOTS/8081.pid" &
            sleep 0.5
            echo r1 > "$SLOTS/8081.release"
            """#)
        let (s, o) = try await h.run(setup + TrafficSwitch.slotFacts)
        #expect(s == 0, "\(o)")
        #expect(o.contains("slot.8081=r1 stopped\n"), "\(o)")
    }

    @Test func managedPointToRenamesTheActiveSocketLink() async throws {
        let h = try Host(mode: "managed")
        let (s1, o1) = try await h.run("point_to 8081 && point_to 8082 && echo ok")
        #expect(s1 == 0 && o1.contains("ok"), "\(o1)")
        let link = try FileManager.default.destinationOfSymbolicLink(atPath: h.layout.proxy + "/active.sock")
        #expect(link == "slot-8082.sock")
        #expect(h.read(h.layout.slots + "/upstream.slot") == "8082")
        // The managed proxy switches at the next request: no settle time is recorded, so the slot
        // switched away from is settled at once.
        #expect(h.read(h.layout.slots + "/8081.left") == nil)
        let (s2, _) = try await h.run("settled 8081")
        #expect(s2 == 0)
        let (s3, _) = try await h.run("point_none")
        #expect(s3 == 0)
        #expect(!FileManager.default.fileExists(atPath: h.layout.proxy + "/active.sock"))
        #expect(h.read(h.layout.slots + "/upstream.slot") == nil)
    }

    @Test func systemPointToWritesTheUpstreamAndRecordsWhenTheOldSlotLeft() async throws {
        let h = try Host(mode: "system")
        // In one script: the settle time is two seconds from the switch away from 8081.
        let (s1, o1) = try await h.run(
            "point_to 8081 && point_to 8082 && if settled 8081; then echo settled=1; else echo settled=0; fi")
        #expect(s1 == 0, "\(o1)")
        let upstream = try #require(h.read(h.dir + "/upstream.conf"))
        #expect(upstream.contains("server 127.0.0.1:8082;"), "\(upstream)")
        // A system nginx's old workers may still send to 8081 for a moment: it is not settled yet.
        #expect(h.read(h.layout.slots + "/8081.left") != nil)
        #expect(ScriptOutput(o1).first("settled") == "0", "\(o1)")
        // Two seconds later (uptime in hundredths) it is.
        let (s3, o3) = try await h.run(
            "read -r up _ < /proc/uptime; n=${up%.*}; printf '%s.00\\n' $((n - 3)) > \"$SLOTS/8081.left\"; settled 8081"
        )
        #expect(s3 == 0, "\(o3)")
        let (s4, _) = try await h.run("point_none")
        #expect(s4 == 0)
        #expect(h.read(h.dir + "/upstream.conf")?.contains("down;") == true)
    }

    @Test func stopSlotStopsTheSlotsProcessAndForgetsIt() async throws {
        let h = try Host(mode: "managed")
        // A real process on slot 8081, recorded as the warm-up records it.
        let (s1, o1) = try await h.run(
            """
            setsid sleep 300 </dev/null >/dev/null 2>&1 &
            echo $! > "$SLOTS/8081.pid"; echo r1 > "$SLOTS/8081.release"
            getv p "$SLOTS/8081.pid"; alive "$p" && echo "alive=$p"
            """)
        #expect(s1 == 0, "\(o1)")
        let pid = try #require(ScriptOutput(o1).first("alive").flatMap { Int32($0) })
        let (s2, o2) = try await h.run("stop_slot 8081 drain; getv p \"$SLOTS/8081.pid\"; echo \"left=$p\"")
        #expect(s2 == 0, "\(o2)")
        // Gone, or a zombie its new parent has not reaped yet.
        let stat = (try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8)) ?? ""
        #expect(stat.isEmpty || stat.contains(") Z "), "the slot's process is gone: \(stat)")
        #expect(ScriptOutput(o2).first("left") == "")
        #expect(h.read(h.layout.slots + "/8081.release") == nil)
    }
}
