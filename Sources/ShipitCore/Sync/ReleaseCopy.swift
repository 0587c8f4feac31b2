import FoundationEssentials
import SSH
import ShipitSupport

#if canImport(Glibc)
    import Glibc
#endif

/// A release taken from a host that has it, for another that does not (`shipit sync`): its files
/// as an artifact (the shared paths and the manifest left out: the receiving host links and
/// writes its own), and its environment file. Both travel through the deployer.
public enum ReleaseCopy {
    /// The release's files on `donor`, as a tarball in `workDir`, named by the same release id.
    public static func artifact(
        from donor: String, releaseID: String, config: DeployConfig, transport: HostTransport, workDir: String
    ) async throws -> Artifact {
        let layout = config.layout
        let excludes = (config.shared + [".shipit-manifest"]).map { "--exclude=./\($0)" }
        let command = HostScript(
            .releaseCopy, layout: layout, timeout: nil, variables: [("ID", releaseID)],
            ScriptText(
                """
                cd "$RELEASES/$ID" || { echo "release $ID is not on this host" >&2; exit 1; }
                tar --sort=name --owner=0 --group=0 --numeric-owner \(ShellQuote.join(excludes)) -cf - . | gzip -n
                """)
        ).command
        let path = workDir + "/release.tar.gz"
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw ShipitError("cannot write \(path): \(POSIXFailure(operation: "open"))") }
        let lock = Lock()
        nonisolated(unsafe) var writeError: Error?
        nonisolated(unsafe) var stderr = Data()
        let r: ExecResult
        do {
            r = try await transport.follow(donor, command, until: { true }) { channel, data in
                lock.withLock {
                    if channel == .stdout {
                        do { try FileDescriptorIO.write(fd, data) } catch { writeError = writeError ?? error }
                    } else if stderr.count < 2000 {
                        stderr.append(data)
                    }
                }
            }
        } catch {
            close(fd)
            throw error
        }
        close(fd)
        if let writeError { throw ShipitError("copying release \(releaseID) from \(donor): \(writeError)") }
        guard r.status.succeeded else {
            throw ShipitError(
                "copying release \(releaseID) from \(donor): exit \(r.exitCode): \(HostValue.printable(String(decoding: stderr, as: UTF8.self)))"
            )
        }
        return try Artifact.copied(path: path, releaseID: releaseID, from: "\(donor):\(layout.release(releaseID))")
    }

    /// An image release as `donor` created it: its image by digest, under the tag it was deployed
    /// as, so every host behind pulls that content whatever the tag names today. `digest`: the one
    /// the ledger recorded for the release, which the donor's record must match.
    public static func image(
        from donor: String, releaseID: String, digest recorded: String?, config: DeployConfig, transport: HostTransport
    ) async throws -> ReleaseInput {
        let name = config.image?.name ?? ""
        // The image strategy's own lookup: `$REF` from the host's image-releases record, or it fails.
        let command = HostScript(
            .releaseCopy, layout: config.layout, timeout: 60, variables: [("ID", releaseID)], uses: [.fail],
            ImageStrategy.lookupReference + #"printf '%s\n' "$REF""#
        ).command
        let r = try await transport.run(donor, command)
        let reference = r.stdoutText.trimmed()
        guard r.status.succeeded, !reference.isEmpty else {
            throw ShipitError(
                "sync: \(donor) runs \(releaseID) but has no record of its image (\(config.layout.imageReleases))")
        }
        guard let at = reference.lastIndex(of: "@"),
            HostValue.isDigest(String(reference[reference.index(after: at)...]))
        else {
            throw ShipitError(
                "sync: \(donor) records \(releaseID) as \(HostValue.printable(reference)), not name@sha256:…")
        }
        let digest = String(reference[reference.index(after: at)...])
        guard reference[..<at] == name else {
            throw ShipitError(
                "sync: \(releaseID) was made from \(HostValue.printable(String(reference[..<at]))), and image.name is now \(name): deploy a tag of \(name) instead"
            )
        }
        if let recorded, recorded != digest {
            throw ShipitError("sync: \(donor) records \(releaseID) as \(digest), the ledger as \(recorded)")
        }
        guard let tag = ImageStrategy.tag(ofRelease: releaseID, digest: digest) else {
            throw ShipitError("sync: \(releaseID) is not a release id of digest \(digest)")
        }
        return .imageDigest(tag: tag, digest: digest, release: releaseID)
    }

    /// The release's environment on `donor` (nil when it has none), its secrets as the config names
    /// them; every value is masked from here on.
    public static func environment(
        from donor: String, releaseID: String, config: DeployConfig, transport: HostTransport
    ) async throws -> ReleaseEnvironment? {
        let command = HostScript(
            .releaseCopy, layout: config.layout, timeout: 60, variables: [("ID", releaseID)],
            ScriptText(#"[ ! -f "$META/env/$ID" ] || cat "$META/env/$ID""#)
        ).command
        let r = try await transport.run(donor, command)
        guard r.status.succeeded else {
            throw ShipitError("reading the environment of \(releaseID) on \(donor): exit \(r.exitCode)")
        }
        let text = r.stdoutText
        guard !text.isEmpty else { return nil }
        // A name the config gives as a plain value is one; any other is taken for a secret (masked).
        let plain = Set(config.releaseEnv.env.map(\.name))
        guard let env = ReleaseEnvironment(shellFile: text, plain: plain) else {
            throw ShipitError("the environment file of \(releaseID) on \(donor) is not one shipit wrote")
        }
        SecretValues.register(env.secretValues)
        return env
    }
}
