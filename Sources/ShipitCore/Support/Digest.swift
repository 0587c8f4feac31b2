import Foundation

/// sha256 on the deployer, through coreutils' `sha256sum` (no crypto library needed for one hash per run).
public enum Digest {
    public static func sha256Hex(file: String) throws -> String {
        let out = try LocalProcess.run(["sha256sum", "--", file])
        guard out.count >= 64 else { throw ShipitError("sha256sum gave no digest for \(file)") }
        return String(out.prefix(64))
    }

    public static func sha256Hex(_ data: Data) throws -> String {
        let out = try LocalProcess.run(["sha256sum"], stdin: data)
        guard out.count >= 64 else { throw ShipitError("sha256sum gave no digest") }
        return String(out.prefix(64))
    }
}
