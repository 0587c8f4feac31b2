import Foundation
import ShipitCore
import TestSupport
import Testing

/// Big releases (issue 37): a host that keeps earlier releases gets only the files it lacks, and
/// builds the release from copies of the rest; the result is the artifact's, byte for byte and
/// mode for mode, or the host gets the whole artifact.
@Suite("big releases: a delta of what changed")
struct DeltaDeployTests {
    /// releases-example's `version` plus 24 incompressible assets of 200 KB (4.8 MB): over the
    /// 2 MiB that ride on the pre-flight's channel.
    func bigTree(_ f: DeployFixture, _ version: String, from base: String? = nil) async throws -> String {
        let dir = Local.tempDir("delta-\(version)")
        if let base {
            try await Local.run(["cp", "-a", base + "/.", dir])
        } else {
            try await Local.run([
                "sh", "-c",
                "mkdir -p \"$1/assets\" && for i in $(seq 1 24); do head -c 200000 /dev/urandom > \"$1/assets/a$i.bin\"; done"
                    // Names a line-based list must carry as they are, an empty directory, and a
                    // read-only one the copies must still get into.
                    + " && mkdir -p \"$1/odd names/empty\" \"$1/ro\" && head -c 300000 /dev/urandom > \"$1/odd names/-dash 'q'.bin\""
                    + " && head -c 300000 /dev/urandom > \"$1/odd names/caf\u{E9}.bin\" && head -c 300000 /dev/urandom > \"$1/ro/f.bin\""
                    + " && chmod 555 \"$1/ro\"",
                "sh", dir,
            ])
        }
        try await Local.run(["cp", "-a", f.release(version) + "/.", dir])
        return dir
    }

    /// What the host's release holds: its own mode; every directory, file and link with its mode and
    /// time; each file's sha256; and its manifest.
    func listing(_ f: DeployFixture, _ host: String, _ id: String) async throws -> String {
        try await f.sh(
            host,
            "cd \(f.deployTo)/releases/\(id) && stat -c '%a .' . && find . -mindepth 1 ! -name .shipit-manifest -printf '%y %m %T@ %p %l\\n' | LC_ALL=C sort && find . -type f ! -name .shipit-manifest -print0 | LC_ALL=C sort -z | xargs -0 sha256sum && cat .shipit-manifest"
        )
    }

    @Test func aOneFileChangeSendsOneFileAndBuildsTheSameReleaseAsAFullUpload() async throws {
        let f = try DeployFixture()
        try await withCleanup({
            // The read-only directory's releases: writable again, so that they can be removed.
            for h in f.targets { _ = try? await f.sh(h, "chmod -R u+w \(f.deployTo) 2>/dev/null; true") }
            await f.cleanUp()
        }) {
            let v1 = try await bigTree(f, "v1")
            let first = try await f.shipit(["deploy", "--from", v1])
            #expect(first.status == 0, "\(first.stdout)")
            #expect(!first.stdout.contains("delta:"), "nothing to copy from on a first deploy: \(first.stdout)")

            // v2: releases-example's v2 files over the same assets, and one asset made executable.
            let v2 = try await bigTree(f, "v2", from: v1)
            try await Local.run(["chmod", "755", v2 + "/assets/a3.bin"])
            let second = try await f.shipit(["deploy", "--from", v2])
            #expect(second.status == 0, "\(second.stdout)")
            #expect(second.stdout.contains("delta: "), "\(second.stdout)")
            #expect(!second.stdout.contains("whole artifact"), "\(second.stdout)")
            for h in f.targets { #expect(try await f.served(h) == "hello from releases-example v2") }
            let verify = try await f.shipit(["verify"])
            #expect(verify.status == 0, "\(verify.stdout)")

            // The same tree uploaded whole (no earlier release on the host): the same files, modes and links.
            let viaDelta = try await listing(f, f.targets[0], try await f.currentRelease(f.targets[0]))
            #expect(viaDelta.contains("f 755 0.0000000000 ./assets/a3.bin"), "\(viaDelta)")
            #expect(
                viaDelta.contains("d 555 0.0000000000 ./ro") && viaDelta.contains("./odd names/-dash 'q'.bin"),
                "\(viaDelta)")
            #expect(second.stdout.contains("of 33 file(s) sent"), "\(second.stdout)")
            _ = try await f.sh(
                f.targets[1], "chmod -R u+w \(f.deployTo)/releases && rm -rf \(f.deployTo)/releases/*[0-9a-f]")
            let whole = try await f.shipit(["deploy", "--from", v2, "--hosts", f.targets[1]])
            #expect(whole.status == 0, "\(whole.stdout)")
            #expect(!whole.stdout.contains("delta:"), "\(whole.stdout)")
            #expect(try await listing(f, f.targets[1], try await f.currentRelease(f.targets[1])) == viaDelta)
        }
    }

    /// A kept release whose file the app changed in place no longer matches its manifest: it is
    /// not copied (it was written after the manifest), and that host gets the whole artifact; the
    /// others still get the delta.
    @Test func aKeptFileChangedInPlaceIsCaughtAndThatHostGetsTheWholeArtifact() async throws {
        let f = try DeployFixture()
        try await withCleanup({ await f.cleanUp() }) {
            let v1 = try await bigTree(f, "v1")
            #expect(try await f.shipit(["deploy", "--from", v1]).status == 0)
            let tampered = f.targets[0]
            let before = try await f.currentRelease(tampered)
            _ = try await f.sh(tampered, "echo changed >> \(f.deployTo)/current/assets/a1.bin")
            let v2 = try await bigTree(f, "v2", from: v1)
            let r = try await f.shipit(["deploy", "--from", v2])
            #expect(r.status == 0, "\(r.stdout)")
            #expect(
                r.stdout.contains(
                    "\(tampered) upload ok: delta: ./assets/a1.bin in release \(before) changed since it was deployed; the whole artifact sent instead"
                ),
                "\(r.stdout)")
            for h in f.targets.dropFirst() { #expect(r.stdout.contains("\(h) upload ok: delta: "), "\(r.stdout)") }
            for h in f.targets { #expect(try await f.served(h) == "hello from releases-example v2") }
            let verify = try await f.shipit(["verify"])
            #expect(verify.status == 0, "\(verify.stdout)")
            let sums = try await f.sh(
                tampered,
                "cd \(f.deployTo) && sha256sum < current/assets/a1.bin && ls -a releases | grep -c tmp || true")
            #expect(sums == (try await Local.run(["sh", "-c", "sha256sum < '\(v2)/assets/a1.bin'"])) + "0\n")
        }
    }

    /// A shared path in the release: linked to `shared/` as on a full upload, its files in no
    /// manifest, and `verify` passes.
    @Test func aSharedPathIsLinkedAndLeftOutOfTheManifest() async throws {
        let f = try DeployFixture(extraYAML: "shared: [assets/uploads]")
        try await withCleanup({ await f.cleanUp() }) {
            let v1 = try await bigTree(f, "v1")
            try await Local.run([
                "sh", "-c", "mkdir -p \"$1/assets/uploads\" && echo seed > \"$1/assets/uploads/seed.txt\"", "sh", v1,
            ])
            #expect(try await f.shipit(["deploy", "--from", v1]).status == 0)
            let v2 = try await bigTree(f, "v2", from: v1)
            let r = try await f.shipit(["deploy", "--from", v2])
            #expect(r.status == 0 && r.stdout.contains("upload ok: delta: "), "\(r.stdout)")
            let verify = try await f.shipit(["verify"])
            #expect(verify.status == 0, "\(verify.stdout)")
            let h = f.targets[0]
            let out = try await f.sh(
                h, "cd \(f.deployTo)/current && readlink assets/uploads && grep -c uploads .shipit-manifest || true")
            #expect(out == "\(f.deployTo)/shared/assets/uploads\n0\n")
        }
    }

    /// 4,500 files with long names: their kept manifest (1.2 MB) is more than an exec's usual 1 MiB
    /// of captured output, and is still fetched whole (few files: the hosts' small /srv is shared).
    @Test func manyFilesStillGetADelta() async throws {
        let f = try DeployFixture()
        try await withCleanup({ await f.cleanUp() }) {
            let v1 = Local.tempDir("delta-many")
            try await Local.run([
                "sh", "-c",
                "mkdir -p \"$1/many\" && cd \"$1/many\" && seq 1 4500 | split -l 1 -a 5 - \"$(printf 'x%.0s' $(seq 1 200))\" && head -c 3000000 /dev/urandom > \"$1/blob.bin\"",
                "sh", v1,
            ])
            try await Local.run(["cp", "-a", f.release("v1") + "/.", v1])
            let first = try await f.shipit(["deploy", "--from", v1])
            #expect(first.status == 0, "\(first.stdout.suffix(3000))")
            let manifest = try await f.sh(f.targets[0], "wc -c < \(f.deployTo)/current/.shipit-manifest")
            #expect((Int(manifest.trimmingCharacters(in: .whitespacesAndNewlines)) ?? 0) > 1 << 20)
            try await Local.run(["cp", "-a", f.release("v2") + "/.", v1])
            let r = try await f.shipit(["deploy", "--from", v1])
            #expect(r.status == 0 && r.stdout.contains("upload ok: delta: "), "\(r.stdout.suffix(3000))")
            for h in f.targets { #expect(try await f.served(h) == "hello from releases-example v2") }
            #expect(try await f.shipit(["verify"]).status == 0)
        }
    }
}
