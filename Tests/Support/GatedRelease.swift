import Foundation

/// A copy of a releases-example version with a gate the test controls, to hold a deploy at one
/// exact moment on real hosts:
/// - `.parkStart`: on the chosen hosts the start command (run by the switch step, right after
///   `current` moved) waits until the gate opens, then starts the release as usual;
/// - `.notReady`: the app answers 503 on /health/ready until the gate opens (the smoke test keeps
///   polling), and `entered-<host>` appears once it runs.
/// The gate lives under /tmp, which the test hosts share with the test.
public struct GatedRelease: Sendable {
    public enum Mode: Sendable { case parkStart, notReady }
    public let path: String
    public let gate: String

    /// `hosts`: where `.parkStart` parks (all hosts when nil). `armed: false` leaves the gate open
    /// until `arm()` (a release deployed normally first, then parked when rolled back to).
    public init(from base: String, mode: Mode, hosts: [String]? = nil, armed: Bool = true) async throws {
        gate = Local.tempDir("gate")
        path = Local.tempDir("gated")
        try FileManager.default.setAttributes([.posixPermissions: 0o777], ofItemAtPath: gate)
        try await Local.run(["cp", "-a", base + "/.", path])
        try FileManager.default.moveItem(atPath: path + "/start.sh", toPath: path + "/start.orig.sh")
        let chosen = hosts.map { " \($0.joined(separator: " ")) " } ?? ""
        let script: String
        switch mode {
        case .parkStart:
            script = """
                G='\(gate)'; CHOSEN='\(chosen)'
                if [ -f "$G/armed" ] && { [ -z "$CHOSEN" ] || case "$CHOSEN" in *" $SHIPIT_HOST "*) true ;; *) false ;; esac; }; then
                  touch "$G/entered-$SHIPIT_HOST"
                  while [ ! -f "$G/go" ]; do sleep 0.05; done
                fi
                exec sh ./start.orig.sh
                """
        case .notReady:
            // app.pl reads READY_STATUS on every request; here it is a link to the gate's file.
            try "503\n".write(toFile: gate + "/ready", atomically: true, encoding: .utf8)
            try FileManager.default.setAttributes([.posixPermissions: 0o666], ofItemAtPath: gate + "/ready")
            try FileManager.default.createSymbolicLink(
                atPath: path + "/READY_STATUS", withDestinationPath: gate + "/ready")
            script = """
                sh ./start.orig.sh || exit $?
                touch '\(gate)'/entered-"$SHIPIT_HOST"
                """
        }
        try ("#!/bin/sh\n# A test's gate (Tests/Support/GatedRelease.swift).\n" + script + "\n").write(
            toFile: path + "/start.sh", atomically: true, encoding: .utf8)
        if armed { arm() }
    }

    public func arm() { FileManager.default.createFile(atPath: gate + "/armed", contents: nil) }

    /// Lets every parked start go on, and makes a `.notReady` app ready.
    public func open() {
        FileManager.default.createFile(atPath: gate + "/go", contents: nil)
        try? FileManager.default.removeItem(atPath: gate + "/ready")
    }

    public func entered(_ host: String) -> String { gate + "/entered-" + host }

    /// Waits until every host in `hosts` reached the gate.
    public func waitEntered(_ hosts: [String], timeout: Double = 60) async throws {
        for h in hosts { try await DeployFixture.waitForFile(entered(h), timeout: timeout) }
        for h in hosts where !FileManager.default.fileExists(atPath: entered(h)) {
            throw GateError(message: "\(h) never reached the gate \(gate)")
        }
    }

    struct GateError: Error, CustomStringConvertible {
        let message: String
        var description: String { message }
    }
}
