import FoundationEssentials
import ShipitSupport

/// The migrations a release carries: `NNNN_name.sql` files in `migrations.dir`, ordered by version,
/// each with its sha256 (what drift detection compares with what was applied).
public struct MigrationSet: Sendable, Equatable {
    public struct File: Codable, Sendable, Equatable {
        public var version: Int
        public var name: String
        /// Path relative to the release root (`db/migrations/0002_add_email.sql`).
        public var path: String
        public var checksum: String
        public var findings: [MigrationLint.Finding]
        /// CREATE INDEX CONCURRENTLY cannot run inside a transaction.
        public var needsNoTransaction: Bool

        public var label: String { "\(String(cFormat: "%04d", version))_\(name)" }
        public var isContract: Bool { !findings.isEmpty }
    }

    public var files: [File]

    /// Reads `dir` (relative to `root`). A missing directory is an empty set.
    public static func load(root: String, dir: String) throws -> MigrationSet {
        let full = FilePath.join(root, dir)
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: full) else {
            return MigrationSet(files: [])
        }
        var files: [File] = []
        for name in names.sorted() where name.hasSuffix(".sql") {
            guard name.wholeMatch(of: #/[0-9]+_[A-Za-z0-9_.-]+\.sql/#) != nil,
                let version = Int(name.prefix { $0.isNumber })
            else {
                throw ShipitError.input(
                    "migrations: \(dir)/\(name): expected NNNN_name.sql (digits, '_', then letters, digits, '_', '.', '-')"
                )
            }
            if let other = files.first(where: { $0.version == version }) {
                throw ShipitError.input("migrations: \(dir)/\(name) and \(other.path) have the same version \(version)")
            }
            let data = try Data(contentsOf: URL(fileURLWithPath: full + "/" + name))
            let sql = String(decoding: data, as: UTF8.self)
            let rel = dir + "/" + name
            let stem = String(name.dropLast(4).drop { $0.isNumber }.dropFirst())
            files.append(
                File(
                    version: version, name: stem, path: rel, checksum: try Digest.sha256Hex(data),
                    findings: MigrationLint.lint(file: rel, sql: sql),
                    needsNoTransaction: sql.contains(#/\bCONCURRENTLY\b/#.ignoresCase())))
        }
        return MigrationSet(files: files.sorted { $0.version < $1.version })
    }

    /// The set as a host sees it: `<sha256>  <NNNN_name.sql>` lines (sha256sum output) of `dir`.
    public static func fromChecksums(_ lines: [String], dir: String) -> MigrationSet {
        let files = lines.compactMap { line -> File? in
            let parts = line.split(separator: " ", maxSplits: 1).map { String($0).trimmed() }
            guard parts.count == 2, let version = Int(parts[1].prefix { $0.isNumber }), parts[1].hasSuffix(".sql")
            else { return nil }
            let name = String(parts[1].dropLast(4).drop { $0.isNumber }.dropFirst())
            return File(
                version: version, name: name, path: dir + "/" + parts[1], checksum: parts[0], findings: [],
                needsNoTransaction: false)
        }
        return MigrationSet(files: files.sorted { $0.version < $1.version })
    }

    /// Parses `applied=<version> <checksum> <name>` values.
    public static func applied(_ values: [String]) -> [Applied] {
        values.compactMap { line in
            let p = line.split(separator: " ", maxSplits: 2).map(String.init)
            guard p.count == 3, let v = Int(p[0]) else { return nil }
            return Applied(version: v, checksum: p[1], name: p[2])
        }
    }

    /// An applied migration as recorded in the database.
    public struct Applied: Codable, Sendable, Equatable {
        public var version: Int
        public var checksum: String
        public var name: String

        public init(version: Int, checksum: String, name: String) {
            self.version = version
            self.checksum = checksum
            self.name = name
        }
    }

    /// Drift between what the database has applied and this release: an applied version the release
    /// does not have, a checksum that changed after apply, or a pending file older than an applied one.
    public func drift(applied: [Applied]) -> [String] {
        var problems: [String] = []
        let byVersion = Dictionary(uniqueKeysWithValues: files.map { ($0.version, $0) })
        for a in applied {
            guard let f = byVersion[a.version] else {
                problems.append(
                    "applied migration \(String(cFormat: "%04d", a.version))_\(a.name) is not in this release (unknown version \(a.version))"
                )
                continue
            }
            if f.checksum != a.checksum {
                problems.append(
                    "\(f.path) changed after it was applied (sha256 \(a.checksum.prefix(12)) applied, \(f.checksum.prefix(12)) now)"
                )
            }
        }
        let maxApplied = applied.map(\.version).max() ?? 0
        for f in pending(applied: applied) where f.version < maxApplied {
            problems.append("\(f.path) is pending but older than applied version \(maxApplied)")
        }
        return problems
    }

    public func pending(applied: [Applied]) -> [File] {
        let done = Set(applied.map(\.version))
        return files.filter { !done.contains($0.version) }
    }
}

extension MigrationSet {
    /// The migrations of a release tarball: unpacked into a temporary directory on the deployer,
    /// read from exactly what ships.
    public static func load(artifact path: String, dir: String) throws -> MigrationSet {
        try withTemporaryDirectory("shipit-mig") { tree in
            try LocalProcess.run(["tar", "-xf", path, "-C", tree])
            return try load(root: tree, dir: dir)
        }
    }

    /// Files sent back as `<name> <base64>` lines (copied out of an image on the migration host).
    public static func load(encoded lines: [String], dir: String) throws -> MigrationSet {
        try withTemporaryDirectory("shipit-mig") { root in
            let sub = root + "/" + dir
            try FileManager.default.createDirectory(atPath: sub, withIntermediateDirectories: true)
            for line in lines {
                let parts = line.split(separator: " ", maxSplits: 1).map(String.init)
                guard parts.count == 2, !parts[0].contains("/"), let data = Data(base64Encoded: parts[1]) else {
                    continue
                }
                try data.write(to: URL(fileURLWithPath: sub + "/" + parts[0]))
            }
            return try load(root: root, dir: dir)
        }
    }

    private static func withTemporaryDirectory<T>(_ prefix: String, _ body: (String) throws -> T) throws -> T {
        let dir = FilePath.temporaryDirectory + "/\(prefix)-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        return try body(dir)
    }
}
