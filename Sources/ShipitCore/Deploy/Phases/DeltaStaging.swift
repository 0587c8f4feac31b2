import FoundationEssentials
import SSH
import ShipitSupport

/// The deltas of a symlink deploy, built on the deployer after pre-flight: the kept releases'
/// manifests fetched once each (from one host that has them, checked against the hash every host
/// reported), the new release's tree read from the artifact, and one tarball per distinct set of
/// kept releases. Hosts without a delta worth sending get the whole artifact as before.
struct DeltaStaging {
    struct HostDelta: Sendable {
        var tarball: String
        var sha256: String
        var zipped: Bool
        var plan: DeltaPlan
        var totalFiles: Int
        var totalBytes: Int64
    }

    static func prepare(_ d: PhaseRun, artifact: Artifact, hosts: [String]) async -> [String: HostDelta] {
        let offered = hosts.filter { !(d.run.kept[$0] ?? []).isEmpty }
        guard !offered.isEmpty else { return [:] }
        let manifests = await fetchManifests(d, hosts: offered)
        let work = FilePath.directory(of: artifact.path) + "/delta"
        var keys: [String: [String]] = [:]
        // nil: no delta worth sending from those releases (planned once all the same).
        var plans: [[String]: DeltaPlan?] = [:]
        var tree = artifact.tree
        for host in offered {
            let kept = (d.run.kept[host] ?? []).filter { manifests[$0.manifest] != nil }
            guard !kept.isEmpty else {
                d.notify(
                    DeployNotice(
                        host: host, step: d.strategy.stageStep, status: .info,
                        message: "no manifest of the releases this host keeps could be read: the whole artifact is sent"
                    ))
                continue
            }
            if tree == nil {
                // The artifact's stream held something the index does not read: the tree from
                // the artifact extracted whole.
                do { tree = try ReleaseTree.read(artifact: artifact.path, into: work + "/tree") } catch {
                    return noDelta(d, error)
                }
            }
            let key = kept.map { $0.id + " " + $0.manifest }
            keys[host] = key
            if plans[key] == nil {
                plans[key] = .some(
                    DeltaPlan.plan(
                        tree!, kept: kept.map { DeltaPlan.Kept(id: $0.id, manifest: manifests[$0.manifest]!) }))
            }
        }
        let worth = plans.values.compactMap { $0 }
        guard var tree, !worth.isEmpty else { return [:] }
        if tree.root.isEmpty {
            do { tree = try extract(artifact, tree: tree, sending: worth, into: work + "/tree") } catch {
                return noDelta(d, error)
            }
        }
        var built: [[String]: HostDelta?] = [:]
        var out: [String: HostDelta] = [:]
        for host in offered {
            guard let key = keys[host], let plan = plans[key] ?? nil else { continue }
            if built[key] == nil {
                built[key] = .some(try? build(plan, tree: tree, into: work + "/\(built.count).tar"))
            }
            if let delta = built[key] ?? nil { out[host] = delta }
        }
        return out
    }

    static func noDelta(_ d: PhaseRun, _ error: any Error) -> [String: HostDelta] {
        d.notify(
            DeployNotice(
                host: nil, step: d.strategy.stageStep, status: .info,
                message: "no delta: \(ErrorText.withoutHost(error)); the whole artifact is sent"))
        return [:]
    }

    /// Only what the deltas send, out of the artifact (its directories and links, and the files
    /// some host lacks), with the archived modes and times: the tree's `root` for `build`. A hard
    /// link's target may not be among them, so an artifact with hard links is extracted whole.
    static func extract(
        _ artifact: Artifact, tree: ReleaseTree, sending plans: some Collection<DeltaPlan>, into dir: String
    )
        throws -> ReleaseTree
    {
        try? FileManager.default.removeItem(atPath: dir)
        guard artifact.links.hard.isEmpty else { return try ReleaseTree.read(artifact: artifact.path, into: dir) }
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        // By bytes: two names Unicode calls equal (NFC and NFD) are two members.
        var paths = Set<[UInt8]>()
        for plan in plans { for e in plan.send { paths.insert(Array(e.path.utf8)) } }
        var names: [String] = []
        for path in paths {
            guard let member = tree.members[path] else {
                throw ShipitError("\(String(decoding: path, as: UTF8.self)) has no member name in the artifact's index")
            }
            names.append(member)
        }
        let list = dir + ".list"
        try names.map { $0 + "\0" }.joined().write(toFile: list, atomically: false, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: list) }
        try LocalProcess.run([
            "tar", "--no-same-owner", "-p", "-xf", artifact.path, "-C", dir, "--no-recursion", "--null",
            "--verbatim-files-from", "-T", list,
        ])
        var extracted = tree
        extracted.root = dir
        return extracted
    }

    /// The most a host's manifests may hold (about 400,000 files in four releases).
    static let manifestLimit = 64 << 20

    /// Each distinct manifest once, from the first host that reported it, in one exec per host
    /// asked (its output streamed, not cut at an exec's usual capture limit); a manifest whose
    /// bytes do not hash to what the host reported is not used.
    static func fetchManifests(_ d: PhaseRun, hosts: [String]) async -> [String: [UInt8]] {
        var from: [String: [(id: String, manifest: String)]] = [:]
        var seen = Set<String>()
        for host in hosts {
            for k in d.run.kept[host] ?? [] where seen.insert(k.manifest).inserted { from[host, default: []].append(k) }
        }
        let layout = d.config.layout
        return await withTaskGroup(of: [String: [UInt8]].self) { group in
            for (host, kept) in from {
                group.addTask {
                    let paths = kept.map { layout.release($0.id) + "/.shipit-manifest" }
                    // Bounded on the host (a streamed exec has no deadline of its own); GNU coreutils'
                    // `timeout` is there: a host offers kept releases only with them.
                    let cmd = RemoteCommand(
                        [
                            "timeout", String(Int(d.config.connection.commandTimeout.rounded(.up))), "sh", "-c",
                            "for m in \"$@\"; do cat -- \"$m\" || exit 1; printf '\\0'; done", "sh",
                        ] + paths)
                    guard let bytes = await fetch(d, host, cmd) else { return [:] }
                    var found: [String: [UInt8]] = [:]
                    let parts = bytes.split(separator: 0, omittingEmptySubsequences: false)
                    for (k, part) in zip(kept, parts) where (try? Digest.sha256Hex(Data(part))) == k.manifest {
                        found[k.manifest] = Array(part)
                    }
                    return found
                }
            }
            var all: [String: [UInt8]] = [:]
            for await part in group { all.merge(part) { a, _ in a } }
            return all
        }
    }

    /// `cmd`'s stdout: from one ordinary exec when it fits its capture limit (1 MiB), else
    /// streamed again, up to `manifestLimit`.
    static func fetch(_ d: PhaseRun, _ host: String, _ cmd: RemoteCommand) async -> [UInt8]? {
        guard let r = try? await d.context.transport.run(host, cmd), r.status.succeeded else { return nil }
        if r.stdoutDropped == 0 { return Array(r.stdout) }
        let got = Lock()
        nonisolated(unsafe) var bytes: [UInt8] = []
        nonisolated(unsafe) var tooBig = false
        guard
            let r = try? await d.context.transport.follow(host, cmd, until: { true }) { channel, data in
                guard channel == .stdout else { return }
                got.withLock { if bytes.count + data.count > manifestLimit { tooBig = true } else { bytes += data } }
            }, r.status.succeeded
        else { return nil }
        return got.withLock { tooBig ? nil : bytes }
    }

    /// The plan's tarball: its control directory first, then every directory and link of the
    /// release and the files sent, as the artifact has them (owner 0, its modes and times, no
    /// setuid bits), gzip'd where that shrinks it as tar writes it, like the artifact.
    static func build(_ plan: DeltaPlan, tree: ReleaseTree, into path: String) throws -> HostDelta {
        let control = FilePath.join(tree.root, DeltaPlan.controlDir)
        try? FileManager.default.removeItem(atPath: control)
        try FileManager.default.createDirectory(atPath: control, withIntermediateDirectories: false)
        defer { try? FileManager.default.removeItem(atPath: control) }
        let files = plan.controlFiles(tree)
        for f in files { try f.text.write(toFile: FilePath.join(control, f.name), atomically: false, encoding: .utf8) }
        let names =
            ["./" + DeltaPlan.controlDir] + files.map { "./\(DeltaPlan.controlDir)/\($0.name)" } + plan.send.map(\.path)
        // The artifact's times travel (`--ref` artifacts carry the commit's), as its modes do.
        let list = path + ".list"
        try names.map { $0 + "\0" }.joined().write(toFile: list, atomically: false, encoding: .utf8)
        let fifo = path + ".fifo"
        let packed = try AdaptiveGzip.compress(
            from: [
                "tar", "-C", tree.root, "--no-recursion", "--null", "--verbatim-files-from", "-T", list,
                "--owner=0", "--group=0", "--numeric-owner", "--mode=ug-s", "-cf", fifo,
            ], through: fifo, to: path)
        return HostDelta(
            tarball: path, sha256: packed.sha256, zipped: packed.storedBlocks < packed.blocks,
            plan: plan, totalFiles: tree.files.count, totalBytes: tree.bytes)
    }
}

extension DeltaStaging.HostDelta {
    /// The staging line's note: what travelled and what the host copied.
    var note: String {
        "delta: \(plan.send.filter { $0.kind == .file }.count) of \(totalFiles) file(s) sent "
            + "(\(Self.size(plan.sentBytes)) of \(Self.size(totalBytes))\(zipped ? ", gzip" : "")), "
            + "\(plan.copiedFiles) copied from \(plan.copies.map(\.id).joined(separator: ", "))"
    }

    static func size(_ bytes: Int64) -> String {
        if bytes >= 1 << 20 { return String(cFormat: "%.1f MiB", Double(bytes) / 1_048_576) }
        return bytes >= 1024 ? String(cFormat: "%.0f KiB", Double(bytes) / 1024) : "\(bytes) bytes"
    }
}
