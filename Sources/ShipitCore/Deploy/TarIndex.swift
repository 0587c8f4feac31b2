import Crypto
import FoundationEssentials

/// A release's tree and links read from its tar stream as the artifact is built: each member's
/// kind, mode, time, and each regular file's sha256, with no second read of the release and no
/// extraction. Fed the uncompressed stream in pieces of any size.
///
/// It knows what GNU tar and `git archive` write (ustar and GNU headers, GNU long names, pax
/// `path`/`linkpath`/`size`/`mtime`). Anything else it does not guess at: an unknown member type
/// or header key, a name that leaves the release or comes twice, a hard link to a member it has
/// not seen, or a stream that does not end as tar's does makes `result` nil, and the caller reads
/// the tree the slow way (`ReleaseTree.read`, `ArtifactLinks.read`).
struct TarIndex {
    private enum Body {
        /// Between members: the next 512 bytes are a header.
        case header
        /// A regular file's bytes, hashed.
        case file(Int)
        /// A long name or a pax header, kept whole (bounded by `metaLimit`).
        case meta(UInt8)
        /// Bytes nobody needs (a hard link's or a directory's data, if any).
        case skip
    }

    static let metaLimit = 1 << 20

    private var body = Body.header
    /// Bytes left in the current member's data, then its padding to 512.
    private var left: Int64 = 0
    private var padding = 0
    private var block: [UInt8] = []
    private var meta: [UInt8] = []
    private var hasher = SHA256()
    private var zeroBlocks = 0
    private var longName: [UInt8]?
    private var longLink: [UInt8]?
    private var pax: [String: [UInt8]] = [:]
    private var entries: [ReleaseTree.Entry] = []
    /// Each member's name by its path's bytes (two names Unicode calls equal, NFC and NFD, are
    /// two members): also what was seen already.
    private var members: [[UInt8]: String] = [:]
    /// Each regular file's entry, for the hard links to it.
    private var fileAt: [[UInt8]: Int] = [:]
    private var links = ArtifactLinks()
    /// Why the stream cannot be indexed (the first reason found); nil while it can.
    private(set) var refused: String?

    init() { block.reserveCapacity(512) }

    /// The tree (not extracted anywhere: `root` is empty) and the links; nil when `refused`.
    var result: (tree: ReleaseTree, links: ArtifactLinks)? {
        guard refused == nil else { return nil }
        var tree = ReleaseTree(
            entries: entries.sorted { $0.path.utf8.lexicographicallyPrecedes($1.path.utf8) }, root: "")
        tree.members = members
        return (tree, links)
    }

    /// Where the stream has ended: two zero blocks, as tar writes (what follows is tar's padding).
    /// A stream cut before them is refused.
    mutating func finish() {
        if refused == nil, zeroBlocks < 2 { refused = "the tar stream ends before its end-of-archive blocks" }
    }

    mutating func feed(_ bytes: UnsafeRawBufferPointer) {
        var i = 0
        while i < bytes.count, refused == nil, zeroBlocks < 2 {
            if left > 0 {
                let n = Int(min(left, Int64(bytes.count - i)))
                let piece = UnsafeRawBufferPointer(rebasing: bytes[i..<i + n])
                switch body {
                case .file: hasher.update(bufferPointer: piece)
                case .meta:
                    guard meta.count + n <= Self.metaLimit else {
                        refused = "a tar header's data is over \(Self.metaLimit) bytes"
                        return
                    }
                    meta.append(contentsOf: piece)
                case .skip, .header: break
                }
                left -= Int64(n)
                i += n
                if left == 0 { endData() }
                continue
            }
            if padding > 0 {
                let n = min(padding, bytes.count - i)
                padding -= n
                i += n
                continue
            }
            let n = min(512 - block.count, bytes.count - i)
            block.append(contentsOf: UnsafeRawBufferPointer(rebasing: bytes[i..<i + n]))
            i += n
            if block.count == 512 {
                header(block)
                block.removeAll(keepingCapacity: true)
            }
        }
    }

    private mutating func header(_ h: [UInt8]) {
        if h.allSatisfy({ $0 == 0 }) {
            zeroBlocks += 1
            return
        }
        guard zeroBlocks == 0 else {
            refused = "a tar member follows a zero block"
            return
        }
        guard Self.checksumMatches(h) else {
            refused = "a tar header's checksum does not match"
            return
        }
        // "ustar\0" (POSIX, as git archive writes) or "ustar  \0" (GNU tar's own format).
        let posix = h[257..<263].elementsEqual(Array("ustar\0".utf8))
        guard posix || h[257..<265].elementsEqual(Array("ustar  \0".utf8)) else {
            refused = "a tar header is neither ustar nor GNU"
            return
        }
        guard var size = Self.number(h[124..<136]), size >= 0 else {
            refused = "a tar header's size is not a number"
            return
        }
        let type = h[156]
        switch type {
        case UInt8(ascii: "L"), UInt8(ascii: "K"), UInt8(ascii: "x"), UInt8(ascii: "g"):
            meta.removeAll(keepingCapacity: true)
            startData(.meta(type), size)
            return
        default: break
        }
        // The member itself: what the headers before it said wins over its own fields.
        var name = longName ?? pax["path"] ?? Self.field(h[0..<100])
        if longName == nil, pax["path"] == nil, posix {
            let prefix = Self.field(h[345..<500])
            if !prefix.isEmpty { name = prefix + [UInt8(ascii: "/")] + name }
        }
        let target = longLink ?? pax["linkpath"] ?? Self.field(h[157..<257])
        if let s = pax["size"] {
            guard let v = Int64(String(decoding: s, as: UTF8.self)), v >= 0 else {
                refused = "a pax size is not a number"
                return
            }
            size = v
        }
        var mtime: String
        if let t = pax["mtime"] {
            // Whole seconds: what the tree records (`ReleaseTree.read` too).
            mtime = String(String(decoding: t, as: UTF8.self).prefix { $0 != "." })
            guard Int64(mtime) != nil else {
                refused = "a pax mtime is not a number"
                return
            }
        } else {
            guard let t = Self.number(h[136..<148]) else {
                refused = "a tar header's mtime is not a number"
                return
            }
            mtime = String(t)
        }
        longName = nil
        longLink = nil
        pax = [:]
        guard let mode = Self.number(h[100..<108]) else {
            refused = "a tar header's mode is not a number"
            return
        }
        guard let path = Self.releasePath(name) else {
            refused = "a member's name leaves the release or is empty"
            return
        }
        let key = Array(path.utf8)
        guard members[key] == nil else {
            refused = "\(path) is in the tar stream twice"
            return
        }
        let bare = path == "." ? "" : String(path.dropFirst(2))
        members[key] = String(decoding: name, as: UTF8.self)
        if path != "." { links.paths.insert(bare) }
        let perm = String(mode & 0o7777, radix: 8)
        switch type {
        case UInt8(ascii: "0"), 0, UInt8(ascii: "7"):
            guard path != "." else {
                refused = "the release's own directory is a file in the tar stream"
                return
            }
            entries.append(.init(kind: .file, path: path, mode: perm, mtime: mtime, size: size))
            fileAt[key] = entries.count - 1
            hasher = SHA256()
            startData(.file(entries.count - 1), size)
            if size == 0 { endData() }
        case UInt8(ascii: "1"):
            // A hard link is the file it names: the same bytes, mode and time.
            guard let to = Self.releasePath(target), let at = fileAt[Array(to.utf8)] else {
                refused = "\(path) is a hard link to a member not seen before it"
                return
            }
            let e = entries[at]
            links.hard.append(.init(path: bare, target: String(to.dropFirst(2))))
            entries.append(.init(kind: .file, path: path, mode: e.mode, mtime: e.mtime, size: e.size, digest: e.digest))
            startData(.skip, size)
        case UInt8(ascii: "2"):
            let text = String(decoding: target, as: UTF8.self)
            links.symbolic.append(.init(path: bare, target: text))
            // A link's own permission bits are always 777 on Linux, whatever the header says.
            entries.append(.init(kind: .symlink, path: path, mode: "777", mtime: mtime))
            startData(.skip, size)
        case UInt8(ascii: "5"):
            entries.append(.init(kind: .directory, path: path, mode: perm, mtime: mtime))
            startData(.skip, size)
        default:
            refused = "\(path) is a tar member of type '\(Character(Unicode.Scalar(type)))'"
        }
    }

    private mutating func startData(_ kind: Body, _ size: Int64) {
        body = kind
        left = size
        padding = Int((512 - size % 512) % 512)
    }

    private mutating func endData() {
        switch body {
        case .file(let index): entries[index].digest = Digest.hex(hasher.finalize())
        case .meta(let type): takeMeta(type)
        case .skip, .header: break
        }
        body = .header
    }

    private mutating func takeMeta(_ type: UInt8) {
        switch type {
        case UInt8(ascii: "L"): longName = Self.field(meta[...])
        case UInt8(ascii: "K"): longLink = Self.field(meta[...])
        default:
            guard let records = Self.paxRecords(meta) else {
                refused = "a pax header is malformed"
                return
            }
            for (key, value) in records {
                if type == UInt8(ascii: "g") {
                    // git archive's commit id; anything else global would apply to every member.
                    guard key == "comment" else {
                        refused = "a global pax header sets \(key)"
                        return
                    }
                    continue
                }
                switch key {
                case "path", "linkpath", "size", "mtime": pax[key] = value
                case "atime", "ctime", "comment", "uid", "gid", "uname", "gname": continue
                default:
                    refused = "a pax header sets \(key)"
                    return
                }
            }
        }
    }

    /// `len key=value\n` records.
    static func paxRecords(_ data: [UInt8]) -> [(String, [UInt8])]? {
        var out: [(String, [UInt8])] = []
        var i = 0
        while i < data.count {
            guard let space = data[i...].firstIndex(of: UInt8(ascii: " ")),
                let len = Int(String(decoding: data[i..<space], as: UTF8.self)), len > 0, i + len <= data.count,
                data[i + len - 1] == UInt8(ascii: "\n"),
                let eq = data[(space + 1)..<(i + len)].firstIndex(of: UInt8(ascii: "="))
            else { return nil }
            out.append((String(decoding: data[(space + 1)..<eq], as: UTF8.self), Array(data[(eq + 1)..<(i + len - 1)])))
            i += len
        }
        return out
    }

    /// A NUL-terminated header field.
    static func field(_ bytes: ArraySlice<UInt8>) -> [UInt8] {
        Array(bytes.prefix { $0 != 0 })
    }

    /// An octal field (spaces and NULs around it), or GNU's base-256 for big values.
    static func number(_ bytes: ArraySlice<UInt8>) -> Int64? {
        guard let first = bytes.first else { return nil }
        if first & 0x80 != 0 {
            // Base-256, big-endian, the first byte's top bit the marker (0xff: negative, refused).
            guard first == 0x80 else { return nil }
            var v: Int64 = 0
            for b in bytes.dropFirst() {
                guard v < Int64.max >> 8 else { return nil }
                v = v << 8 | Int64(b)
            }
            return v
        }
        let digits = bytes.drop { $0 == UInt8(ascii: " ") }.prefix { $0 != 0 && $0 != UInt8(ascii: " ") }
        guard !digits.isEmpty, digits.allSatisfy({ (UInt8(ascii: "0")...UInt8(ascii: "7")).contains($0) }) else {
            return nil
        }
        return Int64(String(decoding: digits, as: UTF8.self), radix: 8)
    }

    static func checksumMatches(_ h: [UInt8]) -> Bool {
        guard let want = number(h[148..<156]) else { return false }
        var sum: Int64 = 0
        for (i, b) in h.enumerated() { sum += (148..<156).contains(i) ? 32 : Int64(b) }
        return sum == want
    }

    /// A member's name as `find .` prints it on a host (`./a/b`, `.` for the release itself), or
    /// nil when tar would not put it inside the release as it is (absolute, `..`, empty).
    static func releasePath(_ name: [UInt8]) -> String? {
        var parts: [ArraySlice<UInt8>] = []
        guard name.first != UInt8(ascii: "/") else { return nil }
        for part in name.split(separator: UInt8(ascii: "/"), omittingEmptySubsequences: true) {
            if part.elementsEqual([UInt8(ascii: ".")]) { continue }
            if part.elementsEqual([UInt8(ascii: "."), UInt8(ascii: ".")]) { return nil }
            parts.append(part)
        }
        guard !name.isEmpty else { return nil }
        if parts.isEmpty { return "." }
        return "./" + String(decoding: Array(parts.joined(separator: [UInt8(ascii: "/")])), as: UTF8.self)
    }
}
