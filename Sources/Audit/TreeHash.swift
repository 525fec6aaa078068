import Crypto

/// A SHA-256 value in the audit log's Merkle tree: a leaf hash, an interior node or a root.
///
/// Held inline (four words, no heap allocation): verifying a tree computes two million of these
/// per million leaves.
public struct TreeHash: Hashable, Sendable, CustomStringConvertible {
    /// The 32 bytes in memory order; only ever read back through raw bytes.
    private var words: (UInt64, UInt64, UInt64, UInt64)

    /// The 32 bytes.
    public var bytes: [UInt8] { withUnsafeBytes { Array($0) } }

    /// Wraps 32 bytes; nil for any other length.
    public init?(bytes: [UInt8]) {
        guard let hash = bytes.withUnsafeBytes({ TreeHash(raw: $0) }) else { return nil }
        self = hash
    }

    /// Copies 32 bytes from memory; nil for any other length.
    public init?(raw: UnsafeRawBufferPointer) {
        guard raw.count == 32 else { return nil }
        words = Self.words(raw)
    }

    /// The first 32 bytes of `raw` (which holds at least that many) as four words.
    private static func words(_ raw: UnsafeRawBufferPointer) -> (UInt64, UInt64, UInt64, UInt64) {
        (
            raw.loadUnaligned(fromByteOffset: 0, as: UInt64.self),
            raw.loadUnaligned(fromByteOffset: 8, as: UInt64.self),
            raw.loadUnaligned(fromByteOffset: 16, as: UInt64.self),
            raw.loadUnaligned(fromByteOffset: 24, as: UInt64.self)
        )
    }

    /// Parses 64 hexadecimal digits (either case); nil for anything else.
    public init?(hex: String) {
        let digits = Array(hex.utf8)
        guard digits.count == 64 else { return nil }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(32)
        for index in stride(from: 0, to: 64, by: 2) {
            guard let high = Self.nibble(digits[index]), let low = Self.nibble(digits[index + 1]) else { return nil }
            bytes.append(high << 4 | low)
        }
        self.init(bytes: bytes)
    }

    init(digest: SHA256.Digest) {
        // A SHA-256 digest is always 32 bytes.
        words = digest.withUnsafeBytes { Self.words($0) }
    }

    /// Calls `body` with the 32 bytes, without copying them.
    public func withUnsafeBytes<Result>(_ body: (UnsafeRawBufferPointer) throws -> Result) rethrows -> Result {
        try Swift.withUnsafeBytes(of: words, body)
    }

    /// Whether the memory holds exactly these 32 bytes.
    public func matches(_ raw: UnsafeRawBufferPointer) -> Bool {
        TreeHash(raw: raw) == self
    }

    public static func == (lhs: TreeHash, rhs: TreeHash) -> Bool {
        lhs.words == rhs.words
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(words.0)
        hasher.combine(words.1)
        hasher.combine(words.2)
        hasher.combine(words.3)
    }

    /// Lower-case hexadecimal.
    public var hex: String { withUnsafeBytes { Self.hex($0) } }

    /// Lower-case hexadecimal of any bytes.
    public static func hex(_ bytes: some Collection<UInt8>) -> String {
        let alphabet = Array("0123456789abcdef".utf8)
        var text: [UInt8] = []
        text.reserveCapacity(bytes.count * 2)
        for byte in bytes {
            text.append(alphabet[Int(byte >> 4)])
            text.append(alphabet[Int(byte & 0x0f)])
        }
        return String(decoding: text, as: UTF8.self)
    }

    public var description: String { hex }

    private static func nibble(_ digit: UInt8) -> UInt8? {
        switch digit {
        case 0x30...0x39: digit - 0x30
        case 0x61...0x66: digit - 0x61 + 10
        case 0x41...0x46: digit - 0x41 + 10
        default: nil
        }
    }
}

/// The hashing of RFC 6962 (and RFC 9162 §2.1): a domain-separation byte keeps leaves and
/// interior nodes apart, so no leaf can be passed off as a subtree.
public enum MerkleHashing {
    /// The root of the empty tree: SHA-256 of no bytes.
    public static let emptyRoot = TreeHash(digest: SHA256.hash(data: [UInt8]()))

    /// SHA-256(0x00 ‖ entry).
    public static func leafHash(_ entry: [UInt8]) -> TreeHash {
        var hasher = SHA256()
        hasher.update(data: leafPrefix)
        hasher.update(data: entry)
        return TreeHash(digest: hasher.finalize())
    }

    /// SHA-256(0x01 ‖ left ‖ right).
    public static func nodeHash(_ left: TreeHash, _ right: TreeHash) -> TreeHash {
        var hasher = SHA256()
        hasher.update(data: nodePrefix)
        left.withUnsafeBytes { hasher.update(bufferPointer: $0) }
        right.withUnsafeBytes { hasher.update(bufferPointer: $0) }
        return TreeHash(digest: hasher.finalize())
    }

    private static let leafPrefix: [UInt8] = [0x00]
    private static let nodePrefix: [UInt8] = [0x01]

    /// The largest power of two smaller than `n` (n ≥ 2): where RFC 6962 splits a tree of n leaves.
    static func split(_ n: Int) -> Int {
        precondition(n >= 2)
        var k = 1
        while k << 1 < n { k <<= 1 }
        return k
    }
}
