import Foundation
import TestSupport
import Testing

@testable import ShipitCore

/// The host scripts the strategies build, checked for syntax with `sh -n` and run for real by
/// `/bin/sh` against a temporary local `deploy_to` (no SSH): lock, stage, switch, finish and
/// prune, abandon, unlock, inventory.
@Suite("host scripts run by a real /bin/sh")
struct HostScriptTests {
    struct Host {
        let dir: String
        let config: DeployConfig
        var strategy: SymlinkStrategy { SymlinkStrategy(config: config) }
        var layout: HostLayout { config.layout }

        /// `makeShared`: the shared paths made on the host first, as an operator does.
        init(keep: Int = 5, shared: [String] = ["log"], makeShared: Bool = true) throws {
            let root = Local.tempDir("hostscript")
            dir = root + "/srv/app"
            try """
            app: demo
            hosts: [h1]
            deploy_to: \(dir)
            keep_releases: \(keep)
            shared: [\(shared.joined(separator: ", "))]
            start: "echo \\"$SHIPIT_HOST $SHIPIT_RELEASE\\" > log/started.txt"
            """.write(toFile: root + "/shipit.yml", atomically: true, encoding: .utf8)
            config = try DeployConfig.load(file: root + "/shipit.yml")
            // Shared paths are the operator's, made on the host before a release links them.
            if makeShared {
                for p in shared {
                    try FileManager.default.createDirectory(
                        atPath: dir + "/shared/" + p, withIntermediateDirectories: true)
                }
            }
        }

        /// Runs a command's script; returns its exit status and its `key=value` facts.
        func run(_ command: RemoteCommand) async throws -> (Int32, ScriptOutput, String) {
            let (status, out) = try await LocalProcess.runStatusDetached(["/bin/sh", "-c", command.rendered])
            return (status, ScriptOutput(out), out)
        }

        func artifact(_ files: [String: String]) async throws -> Artifact {
            let src = Local.tempDir("hostscript-src")
            for (name, text) in files {
                try FileManager.default.createDirectory(
                    atPath: (src + "/" + name as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
                try text.write(toFile: src + "/" + name, atomically: true, encoding: .utf8)
            }
            return try await Local.offPool {
                try Artifact.build(from: .directory(src), workDir: Local.tempDir("hostscript-art"))
            }
        }

        /// What the upload step does: the tarball at the layout's upload path.
        func upload(_ a: Artifact) throws {
            try FileManager.default.createDirectory(atPath: layout.meta, withIntermediateDirectories: true)
            try? FileManager.default.removeItem(atPath: layout.upload(a.releaseID))
            try FileManager.default.copyItem(atPath: a.path, toPath: layout.upload(a.releaseID))
        }

        func stage(_ a: Artifact) async throws -> ScriptOutput {
            try upload(a)
            let plan = try strategy.stage(ResolvedRelease(id: a.releaseID, input: .artifact(a)), host: "h1")
            #expect(plan.uploads.map(\.remotePath) == [layout.upload(a.releaseID)])
            let (status, out, text) = try await run(plan.command)
            #expect(status == 0, "\(text)")
            return out
        }

        var current: String? { try? FileManager.default.destinationOfSymbolicLink(atPath: layout.current) }
    }

    static let lock = LockRequest(info: "holder=run-1\npid=1\nby=me@here\nstarted=2026-11-29T00:00:00Z\nreason=test")

    @Test func everyScriptOfBothStrategiesIsValidShell() async throws {
        let h = try Host()
        let image = ImageStrategy(
            config: h.config, image: ImageSettings(name: "localhost/app", containerPort: 8080, port: 8080))
        let a = try await h.artifact(["VERSION": "1"])
        let release = ResolvedRelease(
            id: "v1-0123456789ab", input: .imageTag("v1"), imageReference: "localhost/app@sha256:00",
            imageDigest: "sha256:00")
        var commands: [RemoteCommand] = []
        for s in [h.strategy as ReleaseStrategy, image] {
            commands += [
                s.preflight(Self.lock, deploying: nil, inventory: true, host: "h1"),
                s.switchTo(releaseID: "r1", host: "h1", historyLine: "{}"),
                s.finish(previous: "r0", holder: "run-1", historyLine: "{}"),
                s.abandon(releaseID: "r1", keepForInspection: true, holder: "x", historyLine: nil, host: "h1"),
                s.abandon(releaseID: "r1", keepForInspection: false, holder: "x", historyLine: "{}", host: "h1"),
                s.unlock(holder: "x", historyLine: nil),
                s.inventory(host: "h1"), s.inspect(verify: true, historyLines: 5, host: "h1"), s.forceUnlock(),
                s.retreat(releaseID: "r1", host: "h1", historyLine: "{}"),
            ]
        }
        commands.append(h.strategy.preflight(Self.lock, deploying: .artifact(a), inventory: false, host: "h1"))
        commands.append(try h.strategy.stage(ResolvedRelease(id: a.releaseID, input: .artifact(a)), host: "h1").command)
        commands.append(image.preflight(Self.lock, deploying: .imageTag("v1"), inventory: false, host: "h1"))
        commands.append(try image.stage(release, host: "h1").command)
        // With the traffic switch, in both modes: pre-flight, warm-up, switch, closing scripts, maintenance.
        for traffic in [
            "traffic: {proxy: nginx, standby: 60}",
            "traffic: {mode: system, upstream_file: /etc/nginx/u.conf, test: 'nginx -t', reload: 'nginx -s reload'}",
        ] {
            let dir = Local.tempDir("sh-n-traffic")
            try "app: demo\nhosts: [h1]\ndeploy_to: /srv/demo\nstart: sh start.sh\nhealth: {port: 8080}\n\(traffic)\n"
                .write(toFile: dir + "/shipit.yml", atomically: true, encoding: .utf8)
            let cfg = try DeployConfig.load(file: dir + "/shipit.yml")
            let sym = SymlinkStrategy(config: cfg)
            let img = ImageStrategy(
                config: cfg, image: ImageSettings(name: "localhost/app", containerPort: 8080, port: 8080))
            for s in [sym as ReleaseStrategy, img] {
                let slots = try #require(s.slots)
                commands += [
                    s.preflight(Self.lock, deploying: nil, inventory: true, host: "h1"),
                    slots.warm(releaseID: "r1", host: "h1", slot: 8081, reuse: true),
                    slots.switchTraffic(releaseID: "r1", host: "h1", slot: 8081, historyLine: "{}"),
                    s.finish(previous: "r0", holder: "x", historyLine: nil),
                    s.abandon(releaseID: "r1", keepForInspection: true, holder: "x", historyLine: nil, host: "h1"),
                    s.inspect(verify: false, historyLines: 1, host: "h1"),
                    s.retreat(releaseID: "r1", host: "h1", historyLine: "{}"),
                ]
                if let m = s.maintenance(host: "h1", on: true, message: "back soon", retryAfter: 60, historyLine: "{}")
                {
                    commands.append(m)
                }
            }
        }
        for c in commands {
            let file = Local.tempDir("sh-n") + "/script.sh"
            try c.rendered.write(toFile: file, atomically: true, encoding: .utf8)
            let (status, out) = try await LocalProcess.runStatusDetached(["/bin/sh", "-n", file])
            #expect(status == 0, "\(c.step.map(\.rawValue) ?? "?"): \(out)")
            #expect(c.step != nil)
        }
    }

    @Test func preflightTakesTheLockOnceAndTakesOverAStaleOne() async throws {
        let h = try Host()
        let (s1, out1, _) = try await h.run(
            h.strategy.preflight(Self.lock, deploying: nil, inventory: false, host: "h1"))
        #expect(s1 == 0)
        #expect(out1.first("lock") == "acquired")
        #expect(out1.first("current") == "")
        #expect(try String(contentsOfFile: h.layout.lock, encoding: .utf8).contains("holder=run-1"))
        // A second run is refused, naming the holder.
        let other = LockRequest(info: "holder=run-2")
        let (s2, out2, _) = try await h.run(h.strategy.preflight(other, deploying: nil, inventory: false, host: "h1"))
        #expect(s2 == ScriptExit.locked.rawValue)
        #expect(out2.first("error")?.contains("holder=run-1") == true)
        // Unless the deployer knows run-1 is dead.
        let (s3, out3, _) = try await h.run(
            h.strategy.preflight(
                LockRequest(info: "holder=run-2", staleHolders: ["run-1"]), deploying: nil, inventory: false, host: "h1"
            ))
        #expect(s3 == 0)
        #expect(out3.first("lock.stale") == "run-1")
        // Only the holder's unlock removes it.
        _ = try await h.run(h.strategy.unlock(holder: "run-1", historyLine: nil))
        #expect(FileManager.default.fileExists(atPath: h.layout.lock))
        let (_, out4, _) = try await h.run(h.strategy.unlock(holder: "run-2", historyLine: "{\"event\":\"outcome\"}"))
        #expect(out4.first("lock") == "released")
        #expect(!FileManager.default.fileExists(atPath: h.layout.lock))
        #expect(try String(contentsOfFile: h.layout.history, encoding: .utf8) == "{\"event\":\"outcome\"}\n")
    }

    /// Runs that share no run lock (two SQLite ledgers) and all know the lock's holder is dead race
    /// for it: the real pre-flight script, started by one shell in the background many times at
    /// once, round after round. Exactly one may print `lock=acquired`, and the lock file must name it.
    @Test func racingRunsTakeOverADeadRunsLockExactlyOnce() async throws {
        let h = try Host()
        let dir = Local.tempDir("lock-race")
        let runs = 8
        let rounds = 25
        for i in 0..<runs {
            let request = LockRequest(info: "holder=run-\(i)\npid=\(i)", staleHolders: ["dead-1"])
            try h.strategy.preflight(request, deploying: nil, inventory: false, host: "h1").rendered
                .write(toFile: "\(dir)/run-\(i).sh", atomically: true, encoding: .utf8)
        }
        let driver = """
            cd "$1" || exit 1
            for round in $(seq 1 \(rounds)); do
              mkdir -p "$2" && printf 'holder=dead-1\\npid=1\\n' > "$3"
              for i in $(seq 0 \(runs - 1)); do sh "run-$i.sh" > "out-$i" 2>/dev/null & done
              wait
              n=0; who=
              for i in $(seq 0 \(runs - 1)); do grep -qx 'lock=acquired' "out-$i" && { n=$((n + 1)); who="$who run-$i"; }; done
              echo "round=$round acquired=$n by=$who lock=$(sed -n 's/^holder=//p' "$3")"
              rm -f "$3"
            done
            """
        let (status, out) = try await LocalProcess.runStatusDetached([
            "/bin/sh", "-c", driver, "race", dir, h.layout.meta, h.layout.lock,
        ])
        #expect(status == 0, "\(out)")
        let lines = out.split(separator: "\n").filter { $0.hasPrefix("round=") }
        #expect(lines.count == rounds)
        for line in lines {
            let fields = Dictionary(
                line.split(separator: " ").compactMap { f -> (String, String)? in
                    let kv = f.split(separator: "=", maxSplits: 1)
                    return kv.count == 2 ? (String(kv[0]), String(kv[1])) : nil
                }, uniquingKeysWith: { a, _ in a })
            #expect(fields["acquired"] == "1", "\(line)")
            // The one that says it holds the lock is the one the lock file names.
            #expect(
                line.hasSuffix("by= \(fields["lock"] ?? "?") lock=\(fields["lock"] ?? "?")")
                    || fields["acquired"] != "1", "\(line)")
        }
        // No takeover marker is left behind.
        let left = try FileManager.default.contentsOfDirectory(atPath: h.layout.meta).filter { $0.contains("takeover") }
        #expect(left.isEmpty, "\(left)")
    }

    /// A file uploaded (SFTP, SCP) next to an existing one with a wide mode: the script puts it in
    /// place as a new file, mode 0600, whatever the old one's mode and the upload's.
    @Test func anUploadedFileReplacesTheOldOneAsANewPrivateFile() async throws {
        let dir = Local.tempDir("placing") + "/a b;$(x)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let path = dir + "/.env-app"
        try "API_TOKEN=old\n".write(toFile: path, atomically: false, encoding: .utf8)
        try FileManager.default.setAttributes([.posixPermissions: 0o644], ofItemAtPath: path)
        let oldInode = try FileManager.default.attributesOfItem(atPath: path)[.systemFileNumber] as? UInt64
        let part = RemoteCommand.uploadPath(for: path)
        #expect(part.hasPrefix(path + ".part-") && part != RemoteCommand.uploadPath(for: path))
        try "API_TOKEN=new\n".write(toFile: part, atomically: false, encoding: .utf8)
        try FileManager.default.setAttributes([.posixPermissions: 0o664], ofItemAtPath: part)
        let command = RemoteCommand(script: "echo ran=yes").placing([(part, path)])
        let (status, out) = try await LocalProcess.runStatusDetached(["/bin/sh", "-c", command.rendered])
        #expect(status == 0, "\(out)")
        #expect(ScriptOutput(out).first("ran") == "yes")
        let attributes = try FileManager.default.attributesOfItem(atPath: path)
        #expect((attributes[.posixPermissions] as? Int) == 0o600)
        #expect(attributes[.systemFileNumber] as? UInt64 != oldInode)
        #expect(try String(contentsOfFile: path, encoding: .utf8) == "API_TOKEN=new\n")
        #expect(!FileManager.default.fileExists(atPath: part))
        // The upload missing: the script stops before its body, saying so.
        let (failed, failedOut) = try await LocalProcess.runStatusDetached(["/bin/sh", "-c", command.rendered])
        #expect(failed == 24)
        #expect(ScriptOutput(failedOut).first("ran") == nil)
    }

    /// An artifact (built from a directory, as `--from` does) whose shared path passes through a
    /// symbolic link to a directory outside the release: absolute, by `..`, deeper in the path.
    /// The staging script refuses it naming the path; the outside file is left as it was (before,
    /// `rm -rf` followed the link and removed it, and a link was planted in its place).
    @Test(arguments: ["absolute", "dotdot", "nested"])
    func aSharedPathThroughASymlinkOfTheArtifactIsRefusedAndNothingOutsideIsTouched(kind: String) async throws {
        let sharedPath = kind == "nested" ? "app/config/database.yml" : "config/database.yml"
        let h = try Host(shared: [sharedPath], makeShared: false)
        let outside = Local.tempDir("outside") + "/other"
        try FileManager.default.createDirectory(atPath: outside + "/config", withIntermediateDirectories: true)
        try "production: secret\n".write(toFile: outside + "/config/database.yml", atomically: true, encoding: .utf8)
        let src = Local.tempDir("hostscript-src")
        try "1".write(toFile: src + "/VERSION", atomically: true, encoding: .utf8)
        switch kind {
        case "absolute":
            try FileManager.default.createSymbolicLink(
                atPath: src + "/config", withDestinationPath: outside + "/config")
        case "dotdot":
            // From releases/<id>.tmp/config: up to / and down again to the outside directory.
            let ups = String(repeating: "../", count: h.layout.releases.split(separator: "/").count + 1)
            try FileManager.default.createSymbolicLink(
                atPath: src + "/config", withDestinationPath: ups + outside.dropFirst() + "/config")
        default:
            try FileManager.default.createSymbolicLink(atPath: src + "/app", withDestinationPath: outside)
        }
        let a = try await Local.offPool {
            try Artifact.build(from: .directory(src), workDir: Local.tempDir("hostscript-art"))
        }
        try h.upload(a)
        let (status, out, text) = try await h.run(h.strategy.extract(releaseID: a.releaseID, sha256: a.sha256))
        #expect(status == ScriptExit.sharedIsSymlink.rawValue, "\(text)")
        let component = kind == "nested" ? "app" : "config"
        #expect(
            out.first("error")
                == "shared path \(sharedPath): \(component) is a symbolic link in the artifact; a shared path must be a plain directory or file of the release",
            "\(text)")
        // Outside: the same file, not a link; nothing copied into shared/; no release left.
        let target = outside + "/config/database.yml"
        #expect((try? FileManager.default.destinationOfSymbolicLink(atPath: target)) == nil)
        #expect(try String(contentsOfFile: target, encoding: .utf8) == "production: secret\n")
        #expect(!FileManager.default.fileExists(atPath: h.layout.shared + "/" + sharedPath))
        #expect(!FileManager.default.fileExists(atPath: h.layout.release(a.releaseID)))
        #expect(!FileManager.default.fileExists(atPath: h.layout.release(a.releaseID) + ".tmp"))
        // The deployer refuses it first, naming the field and the path, before any host.
        #expect(throws: ShipitError.self) { try a.links.checkShared(h.config.shared) }
    }

    /// Extracted as root (the tests run as root), a tarball's owners and setuid/setgid bits are
    /// not restored: the files belong to the deploy user, with its umask.
    @Test func theReleaseBelongsToTheDeployUserWithoutSetuidBits() async throws {
        let h = try Host(shared: [])
        let src = Local.tempDir("hostscript-src")
        try "#!/bin/sh\n".write(toFile: src + "/tool", atomically: true, encoding: .utf8)
        try FileManager.default.setAttributes([.posixPermissions: 0o6755], ofItemAtPath: src + "/tool")
        try FileManager.default.createDirectory(atPath: src + "/dir", withIntermediateDirectories: true)
        try FileManager.default.setAttributes([.posixPermissions: 0o2775], ofItemAtPath: src + "/dir")
        // A tarball made by hand (not by Artifact.build, which strips the bits itself): another owner, the bits kept.
        let work = Local.tempDir("hostscript-art")
        let tarball = work + "/release.tar.gz"
        try await Local.run([
            "sh", "-c", "tar --owner=4321 --group=4321 --numeric-owner -C \"$1\" -czf \"$2\" .", "tar", src, tarball,
        ])
        let id = "20261206T000000000Z-0wner000"
        try FileManager.default.createDirectory(atPath: h.layout.meta, withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: tarball, toPath: h.layout.upload(id))
        let (status, _, text) = try await h.run(h.strategy.extract(releaseID: id, sha256: try Local.sha256(tarball)))
        #expect(status == 0, "\(text)")
        for name in ["tool", "dir"] {
            let attributes = try FileManager.default.attributesOfItem(atPath: h.layout.release(id) + "/" + name)
            #expect((attributes[.ownerAccountID] as? NSNumber)?.intValue == Int(getuid()), "\(name): \(attributes)")
            #expect(
                ((attributes[.posixPermissions] as? NSNumber)?.intValue ?? 0) & 0o6000 == 0, "\(name): \(attributes)")
        }
    }

    /// Hard links and links out of the release are refused by a tar that is not GNU's (BusyBox,
    /// here as `tar` first in PATH); GNU tar extracts them.
    @Test func anArtifactWithHardLinksIsRefusedByATarThatIsNotGNUs() async throws {
        let busybox = "/usr/bin/busybox"
        try #require(
            FileManager.default.isExecutableFile(atPath: busybox), "busybox is needed (apt-get install busybox-static)")
        let h = try Host(shared: [])
        let src = Local.tempDir("hostscript-src")
        try "data".write(toFile: src + "/a", atomically: true, encoding: .utf8)
        try FileManager.default.linkItem(atPath: src + "/a", toPath: src + "/b")
        let a = try await Local.offPool {
            try Artifact.build(from: .directory(src), workDir: Local.tempDir("hostscript-art"))
        }
        #expect(a.links.needsGNUTar.hasPrefix("1 hard link(s) (b -> a)"), "\(a.links)")
        let bin = Local.tempDir("busybox-tar")
        try FileManager.default.createSymbolicLink(atPath: bin + "/tar", withDestinationPath: busybox)
        let command = h.strategy.extract(releaseID: a.releaseID, sha256: a.sha256, needsGNUTar: a.links.needsGNUTar)
        try h.upload(a)
        let (refused, out) = try await LocalProcess.runStatusDetached([
            "/bin/sh", "-c", "PATH=\(ShellQuote.quote(bin)):$PATH; export PATH\n" + command.rendered,
        ])
        #expect(refused == 26, "\(out)")
        #expect(ScriptOutput(out).first("error")?.contains("1 hard link(s) (b -> a)") == true, "\(out)")
        #expect(!FileManager.default.fileExists(atPath: h.layout.release(a.releaseID)))
        try h.upload(a)
        let (status, _, text) = try await h.run(command)
        #expect(status == 0, "\(text)")
        #expect(try String(contentsOfFile: h.layout.release(a.releaseID) + "/b", encoding: .utf8) == "data")
    }

    /// A big release's full upload carries the artifact's manifest: GNU tar's host writes it as
    /// sent (less the shared paths) instead of hashing every file again, and checks the file
    /// count; a host whose tar is not GNU's hashes the files itself.
    @Test func aFullUploadsManifestIsWrittenAsSentWhereTarIsGNUs() async throws {
        let busybox = "/usr/bin/busybox"
        try #require(
            FileManager.default.isExecutableFile(atPath: busybox), "busybox is needed (apt-get install busybox-static)")
        let h = try Host(shared: ["log"])
        // Over the size at which the manifest is sent.
        let blob = String(repeating: "0123456789abcdef", count: 200_000)
        let a = try await h.artifact(["app/VERSION": "1\n", "blob.txt": blob, "log/seed.txt": "seed\n"])
        // The manifest the deployer writes for a big artifact (this one is small: the script is run
        // here with it all the same).
        let real = try #require(a.tree).manifest
        #expect(real.contains("  ./app/VERSION\n") && real.contains("  ./log/seed.txt\n"))
        // A digest no file has: found in the release's manifest only if the host wrote it as sent.
        let marked = real.replacingOccurrences(
            of: try #require(
                real.split(separator: "\n").first { $0.hasSuffix("./app/VERSION") }.map { String($0.prefix(64)) }),
            with: String(repeating: "e", count: 64))
        let sent = h.layout.uploadManifest(a.releaseID)
        // The script for `manifest` as sent, its sha256 as the deployer computed it.
        func command(_ manifest: String, sha256: String? = nil) throws -> RemoteCommand {
            try h.upload(a)
            try manifest.write(toFile: sent, atomically: false, encoding: .utf8)
            return h.strategy.extract(
                releaseID: a.releaseID, sha256: a.sha256, expected: sent,
                expectedSHA256: try sha256 ?? Digest.sha256Hex(Data(manifest.utf8)))
        }

        let (status, _, text) = try await h.run(try command(marked))
        #expect(status == 0, "\(text)")
        let written = try String(contentsOfFile: h.layout.release(a.releaseID) + "/.shipit-manifest", encoding: .utf8)
        #expect(written.contains(String(repeating: "e", count: 64) + "  ./app/VERSION"), "\(written)")
        #expect(!written.contains("./log/"), "the shared path is left out: \(written)")
        #expect(!FileManager.default.fileExists(atPath: sent))

        // One line more than the release holds: refused, nothing left behind.
        try FileManager.default.removeItem(atPath: h.layout.release(a.releaseID))
        let (extra, out, extraText) = try await h.run(
            try command(marked + String(repeating: "f", count: 64) + "  ./not-there\n"))
        #expect(extra == ScriptExit.manifestFailed.rawValue, "\(extraText)")
        #expect(out.first("error")?.contains("holds 2 file(s), the artifact's manifest 3") == true, "\(extraText)")
        #expect(!FileManager.default.fileExists(atPath: h.layout.release(a.releaseID)))
        #expect(!FileManager.default.fileExists(atPath: h.layout.release(a.releaseID) + ".tmp"))
        #expect(!FileManager.default.fileExists(atPath: sent))

        // BusyBox's tar first in PATH, or a manifest that is not the one the deployer sent (cut
        // short, here): the files are hashed, the manifest sent is not used.
        let hashedManifest = real.split(separator: "\n").filter { !$0.contains("./log/") }.map { $0 + "\n" }.joined()
        let bin = Local.tempDir("busybox-tar")
        try FileManager.default.createSymbolicLink(atPath: bin + "/tar", withDestinationPath: busybox)
        let (bb, bbOut) = try await LocalProcess.runStatusDetached([
            "/bin/sh", "-c", "PATH=\(ShellQuote.quote(bin)):$PATH; export PATH\n" + (try command(marked)).rendered,
        ])
        #expect(bb == 0, "\(bbOut)")
        let hashed = try String(contentsOfFile: h.layout.release(a.releaseID) + "/.shipit-manifest", encoding: .utf8)
        #expect(hashed == hashedManifest)
        #expect(!FileManager.default.fileExists(atPath: sent))
        try FileManager.default.removeItem(atPath: h.layout.release(a.releaseID))
        let (cut, cutText) = try await LocalProcess.runStatusDetached([
            "/bin/sh", "-c",
            (try command(String(marked.dropLast(10)), sha256: Digest.sha256Hex(Data(marked.utf8)))).rendered,
        ])
        #expect(cut == 0, "\(cutText)")
        #expect(
            try String(contentsOfFile: h.layout.release(a.releaseID) + "/.shipit-manifest", encoding: .utf8)
                == hashedManifest)
        #expect(!FileManager.default.fileExists(atPath: sent))

        // The staging plan sends the manifest (before the artifact) only for an artifact over the
        // size at which hashing on the host costs more than a second file, and a manifest small
        // beside it.
        let small = Artifact.manifestSentAbove / 16
        for (size, manifestSize, sends) in [
            (Artifact.manifestSentAbove + 1, small, true), (Artifact.manifestSentAbove, small, false),
            (Artifact.manifestSentAbove + 1, small + 1, false),
        ] {
            #expect(Artifact.carriesManifest(artifactSize: size, manifestSize: manifestSize) == sends)
            let big = Artifact(
                path: a.path, sha256: a.sha256, size: size, releaseID: a.releaseID, source: a.source, commit: nil,
                links: a.links, tree: a.tree,
                manifest: sends
                    ? .init(path: "/deployer/release.manifest", sha256: String(repeating: "a", count: 64)) : nil)
            let plan = try h.strategy.stage(ResolvedRelease(id: a.releaseID, input: .artifact(big)), host: "h1")
            #expect(
                plan.uploads.map(\.remotePath)
                    == (sends ? [sent, h.layout.upload(a.releaseID)] : [h.layout.upload(a.releaseID)]))
            #expect(plan.command.rendered.contains(sent) == sends, "\(size)")
        }
    }

    /// An artifact's own `.shipit-manifest`, a link out of the release, is replaced by the
    /// release's manifest: nothing is written through it.
    @Test func anArtifactsManifestLinkIsNotWrittenThrough() async throws {
        let h = try Host(shared: [])
        let outside = Local.tempDir("outside") + "/target"
        try "untouched\n".write(toFile: outside, atomically: true, encoding: .utf8)
        let src = Local.tempDir("hostscript-src")
        try "1".write(toFile: src + "/VERSION", atomically: true, encoding: .utf8)
        try FileManager.default.createSymbolicLink(atPath: src + "/.shipit-manifest", withDestinationPath: outside)
        let a = try await Local.offPool {
            try Artifact.build(from: .directory(src), workDir: Local.tempDir("hostscript-art"))
        }
        try h.upload(a)
        let (status, _, text) = try await h.run(h.strategy.extract(releaseID: a.releaseID, sha256: a.sha256))
        #expect(status == 0, "\(text)")
        #expect(try String(contentsOfFile: outside, encoding: .utf8) == "untouched\n")
        let manifest = h.layout.release(a.releaseID) + "/.shipit-manifest"
        #expect((try? FileManager.default.destinationOfSymbolicLink(atPath: manifest)) == nil)
        #expect(try String(contentsOfFile: manifest, encoding: .utf8).hasSuffix("  ./VERSION\n"))
    }

    /// A shared path that is neither on the host nor in the release: refused by the pre-flight,
    /// naming it, before anything is created (it used to become an empty directory). One the
    /// release holds seeds shared/ as before.
    @Test func aSharedPathNeitherOnTheHostNorInTheReleaseIsRefusedAtPreflight() async throws {
        let h = try Host(shared: [])
        let root = Local.tempDir("shared-config")
        try """
        app: demo
        hosts: [h1]
        deploy_to: \(h.dir)
        shared: [config/secrets.yml, log, storage]
        start: "true"
        """.write(toFile: root + "/shipit.yml", atomically: true, encoding: .utf8)
        let config = try DeployConfig.load(file: root + "/shipit.yml")
        let a = try await h.artifact(["app.sh": "x", "storage/seed.txt": "seed"])
        #expect(a.links.sharedPathsNotInRelease(config.shared) == ["config/secrets.yml", "log"])
        let pre = SymlinkStrategy(config: config).preflight(
            Self.lock, deploying: .artifact(a), inventory: false, host: "h1")
        let (status, out, text) = try await h.run(pre)
        #expect(status == ScriptExit.sharedMissing.rawValue, "\(text)")
        #expect(out.first("error")?.contains("config/secrets.yml, log") == true, "\(text)")
        #expect(!FileManager.default.fileExists(atPath: h.dir), "nothing created")
        // On the host, both present: the pre-flight passes; the release's own path seeds shared/.
        for p in ["config/secrets.yml", "log"] {
            try FileManager.default.createDirectory(
                atPath: h.dir + "/shared/" + (p as NSString).deletingLastPathComponent,
                withIntermediateDirectories: true)
            if p == "log" {
                try FileManager.default.createDirectory(
                    atPath: h.dir + "/shared/log", withIntermediateDirectories: true)
            } else {
                try "k: v".write(toFile: h.dir + "/shared/" + p, atomically: true, encoding: .utf8)
            }
        }
        let (again, _, againText) = try await h.run(pre)
        #expect(again == 0, "\(againText)")
    }

    @Test func preflightRefusesWhenTheDiskIsTooSmall() async throws {
        let h = try Host()
        var cfg = h.config
        cfg.diskFactor = 1e12  // more than any disk
        let a = try await h.artifact(["big": String(repeating: "x", count: 10_000)])
        let (status, out, _) = try await h.run(
            SymlinkStrategy(config: cfg).preflight(Self.lock, deploying: .artifact(a), inventory: false, host: "h1"))
        #expect(status == ScriptExit.diskFull.rawValue)
        #expect(out.first("error")?.contains("KB free") == true)
    }

    @Test func stageSwitchFinishAndPruneOnARealTree() async throws {
        let h = try Host(keep: 2)
        _ = try await h.run(h.strategy.preflight(Self.lock, deploying: nil, inventory: false, host: "h1"))
        let v1 = try await h.artifact(["VERSION": "1", "app.txt": "one", "log/x": "old log"])
        let out1 = try await h.stage(v1)
        #expect(out1.first("extracted") == v1.releaseID)
        #expect(!FileManager.default.fileExists(atPath: h.layout.upload(v1.releaseID)))
        #expect(FileManager.default.fileExists(atPath: h.layout.release(v1.releaseID) + "/.shipit-manifest"))
        // Shared paths are links into shared/, seeded from the first release.
        #expect(
            try FileManager.default.destinationOfSymbolicLink(atPath: h.layout.release(v1.releaseID) + "/log") == h
                .layout.shared + "/log")

        let (s, sw, text) = try await h.run(
            h.strategy.switchTo(releaseID: v1.releaseID, host: "h1", historyLine: "{\"event\":\"deploy\"}"))
        #expect(s == 0, "\(text)")
        #expect(sw.first("previous") == "")
        #expect(sw.first("switched") == v1.releaseID)
        #expect(sw.first("started") == v1.releaseID)
        #expect(h.current == "releases/\(v1.releaseID)")
        #expect(
            try String(contentsOfFile: h.layout.shared + "/log/started.txt", encoding: .utf8) == "h1 \(v1.releaseID)\n")

        // v2 reports what changed against v1, then replaces it.
        let v2 = try await h.artifact(["VERSION": "2", "new.txt": "n", "log/x": "ignored"])
        let out2 = try await h.stage(v2)
        #expect(out2.first("changed") == "3")
        #expect(Set(out2.all("change")) == ["M VERSION", "A new.txt", "D app.txt"])
        _ = try await h.run(h.strategy.switchTo(releaseID: v2.releaseID, host: "h1", historyLine: "{}"))
        #expect(h.current == "releases/\(v2.releaseID)")

        // Two more: keep 2 keeps v4 and v3, prunes v2, and never the rollback target (v1 here)
        // nor current; the holder's finish releases the lock.
        let v3 = try await h.artifact(["VERSION": "3"])
        let v4 = try await h.artifact(["VERSION": "4"])
        for v in [v3, v4] {
            _ = try await h.stage(v)
            _ = try await h.run(h.strategy.switchTo(releaseID: v.releaseID, host: "h1", historyLine: "{}"))
        }
        let (_, fin, _) = try await h.run(h.strategy.finish(previous: v1.releaseID, holder: "run-1", historyLine: nil))
        #expect(fin.all("pruned") == [v2.releaseID])
        #expect(fin.first("lock") == "released")
        let (_, inv, _) = try await h.run(h.strategy.inventory(host: "h1"))
        #expect(inv.all("release") == [v1.releaseID, v3.releaseID, v4.releaseID])
        #expect(inv.first("current") == v4.releaseID)
        #expect(inv.first("lock.holder") == nil)

        // Many changes: all counted, the first 100 listed (sorted), a name with spaces whole.
        var files = ["VERSION": "5", "a b.txt": "spaces"]
        for i in 0..<150 { files["f\(1000 + i).txt"] = "\(i)" }
        let out5 = try await h.stage(try await h.artifact(files))
        #expect(out5.first("changed") == "152")
        let listed = out5.all("change")
        #expect(listed.count == SymlinkStrategy.changeListLimit)
        #expect(listed.first == "A a b.txt" && listed.contains("A f1000.txt") && listed.contains("M VERSION") == false)
    }

    @Test func aChecksumMismatchLeavesNoReleaseBehind() async throws {
        let h = try Host()
        let a = try await h.artifact(["VERSION": "1"])
        try h.upload(a)
        let (status, out, _) = try await h.run(
            h.strategy.extract(releaseID: a.releaseID, sha256: String(repeating: "0", count: 64)))
        #expect(status == ScriptExit.checksum.rawValue)
        #expect(out.first("error")?.hasPrefix("checksum mismatch") == true)
        #expect(!FileManager.default.fileExists(atPath: h.layout.release(a.releaseID)))
        #expect(!FileManager.default.fileExists(atPath: h.layout.release(a.releaseID) + ".tmp"))
    }

    @Test func anArtifactStreamedOnStdinIsWrittenThenExtractedInOneScript() async throws {
        let h = try Host()
        _ = try await h.run(h.strategy.preflight(Self.lock, deploying: nil, inventory: false, host: "h1"))
        let a = try await h.artifact(["VERSION": "streamed"])
        let tarball = try Data(contentsOf: URL(fileURLWithPath: a.path))
        let command = h.strategy.extract(releaseID: a.releaseID, sha256: a.sha256).receiving(
            stdinAt: h.layout.upload(a.releaseID))
        #expect(command.step == .extract)
        let (status, out) = try await LocalProcess.runStatusDetached(
            ["/bin/sh", "-c", command.rendered], stdin: tarball)
        #expect(status == 0, "\(out)")
        #expect(ScriptOutput(out).first("extracted") == a.releaseID)
        #expect(try String(contentsOfFile: h.layout.release(a.releaseID) + "/VERSION", encoding: .utf8) == "streamed")
        #expect(!FileManager.default.fileExists(atPath: h.layout.upload(a.releaseID)))
        // A truncated stream fails the checksum and leaves nothing behind.
        let (bad, badOut) = try await LocalProcess.runStatusDetached(
            [
                "/bin/sh", "-c",
                h.strategy.extract(releaseID: "r2", sha256: a.sha256)
                    .receiving(stdinAt: h.layout.upload("r2")).rendered,
            ], stdin: tarball.prefix(tarball.count / 2))
        #expect(bad == ScriptExit.checksum.rawValue, "\(badOut)")
        #expect(!FileManager.default.fileExists(atPath: h.layout.release("r2")))
        #expect(!FileManager.default.fileExists(atPath: h.layout.upload("r2")))
        // Nowhere to write it: a clear error, exit 24.
        let (nowhere, nowhereOut) = try await LocalProcess.runStatusDetached(
            ["/bin/sh", "-c", RemoteCommand(script: "echo never").receiving(stdinAt: "/nonexistent/dir/f").rendered],
            stdin: tarball)
        #expect(nowhere == 24)
        #expect(ScriptOutput(nowhereOut).first("error") == "receiving /nonexistent/dir/f failed (disk full?)")
    }

    @Test func abandonMarksAFailedReleaseOrRemovesOneThatNeverWentLive() async throws {
        let h = try Host()
        _ = try await h.run(h.strategy.preflight(Self.lock, deploying: nil, inventory: false, host: "h1"))
        let good = try await h.artifact(["VERSION": "1"])
        let bad = try await h.artifact(["VERSION": "bad"])
        _ = try await h.stage(good)
        _ = try await h.run(h.strategy.switchTo(releaseID: good.releaseID, host: "h1", historyLine: "{}"))
        _ = try await h.stage(bad)
        _ = try await h.run(
            h.strategy.abandon(
                releaseID: bad.releaseID, keepForInspection: true, holder: "x", historyLine: nil, host: "h1"))
        let (_, inv, _) = try await h.run(h.strategy.inventory(host: "h1"))
        #expect(inv.all("failed") == [bad.releaseID])
        #expect(inv.all("release").contains(bad.releaseID))
        let never = try await h.artifact(["VERSION": "never"])
        _ = try await h.stage(never)
        _ = try await h.run(
            h.strategy.abandon(
                releaseID: never.releaseID, keepForInspection: false, holder: "x", historyLine: nil, host: "h1"))
        #expect(!FileManager.default.fileExists(atPath: h.layout.release(never.releaseID)))
        // The running release is never removed, even when asked to abandon it.
        _ = try await h.run(
            h.strategy.abandon(
                releaseID: good.releaseID, keepForInspection: false, holder: "x", historyLine: nil, host: "h1"))
        #expect(FileManager.default.fileExists(atPath: h.layout.release(good.releaseID)))
    }

    /// A run that gives up on a host whose upload broke off removes what that upload left (the
    /// artifact and its manifest under SFTP's `.part-*` names, a half-built release) and nothing of
    /// another release's.
    @Test func abandonRemovesThisReleasesPartialUploadsOnly() async throws {
        let h = try Host()
        _ = try await h.run(h.strategy.preflight(Self.lock, deploying: nil, inventory: false, host: "h1"))
        let mine = [
            RemoteCommand.uploadPath(for: h.layout.upload("r1")), h.layout.upload("r1"),
            RemoteCommand.uploadPath(for: h.layout.uploadManifest("r1")), h.layout.uploadManifest("r1"),
        ]
        let other = RemoteCommand.uploadPath(for: h.layout.upload("r2"))
        for f in mine + [other] { try "partial".write(toFile: f, atomically: false, encoding: .utf8) }
        for d in [h.layout.release("r1") + ".tmp", h.layout.release("r1") + ".ctl.tmp"] {
            try FileManager.default.createDirectory(atPath: d + "/sub", withIntermediateDirectories: true)
        }
        let (status, out, _) = try await h.run(
            h.strategy.abandon(releaseID: "r1", keepForInspection: false, holder: "x", historyLine: nil, host: "h1"))
        #expect(status == 0, "\(out)")
        for f in mine + [h.layout.release("r1") + ".tmp", h.layout.release("r1") + ".ctl.tmp"] {
            #expect(!FileManager.default.fileExists(atPath: f), "\(f)")
        }
        #expect(FileManager.default.fileExists(atPath: other))
    }

    @Test func inspectVerifiesTheFilesOfCurrent() async throws {
        let h = try Host()
        let a = try await h.artifact(["VERSION": "1", "app.txt": "one", "log/x": "l"])
        _ = try await h.stage(a)
        _ = try await h.run(h.strategy.switchTo(releaseID: a.releaseID, host: "h1", historyLine: "{}"))
        let (_, ok, _) = try await h.run(h.strategy.inspect(verify: true, historyLines: 5, host: "h1"))
        #expect(ok.first("files") == "intact")
        try "changed".write(toFile: h.layout.release(a.releaseID) + "/app.txt", atomically: true, encoding: .utf8)
        let (_, bad, _) = try await h.run(h.strategy.inspect(verify: true, historyLines: 5, host: "h1"))
        #expect(bad.first("files") == "modified")
        #expect(bad.all("modified") == ["./app.txt"])
        #expect(bad.all("history").count == 1)
    }
}
