import struct Foundation.Date
import struct Foundation.UUID

/// One workflow step as the audit log records it: the bytes of a leaf.
///
/// The encoding (version 1) is canonical, so that anyone re-encoding the same step gets the
/// same bytes and the same leaf hash. Fields, in this order, with integers big-endian:
///
/// | field | bytes |
/// |---|---|
/// | version | u8 = 1 |
/// | tenant id | 16 (UUID) |
/// | service key | u8 length, UTF-8 (1–64) |
/// | instance id | 16 (UUID) |
/// | step sequence number | u64 (1 for an instance's first step) |
/// | event | u8 length, UTF-8 (1–64) |
/// | actor role | u8 length, UTF-8 (1–32) |
/// | time | i64, microseconds since 1970-01-01T00:00:00Z |
/// | amounts | u8 count (0–16), then each: u8 length, UTF-8 label (1–32), i64 tiyn |
/// | input hash | 32 (SHA-256 of the step's canonical input) |
/// | subjects | u8 count (0–16), then each 32 bytes: HMAC-SHA256 with the tenant's salt of a person's or organisation's identifier |
/// | previous leaf index | u64, the instance's previous step; 2⁶⁴−1 for its first |
///
/// Names, IINs and other personal data never appear: only the keyed `subjects` hashes.
public struct AuditEntry: Hashable, Sendable {
    public static let version: UInt8 = 1
    /// Marks an instance's first step in `previousLeafIndex`.
    public static let noPreviousLeaf = UInt64.max
    public static let maximumAmounts = 16
    public static let maximumSubjects = 16

    public var tenantID: UUID
    public var service: String
    public var instanceID: UUID
    public var sequence: UInt64
    public var event: String
    public var actorRole: String
    /// Microseconds since the Unix epoch, UTC.
    public var timeMicroseconds: Int64
    /// Labelled amounts in tiyn, in the order the step gives them.
    public var amounts: [(label: String, tiyn: Int64)]
    public var inputHash: [UInt8]
    public var subjects: [[UInt8]]
    public var previousLeafIndex: UInt64

    public init(
        tenantID: UUID,
        service: String,
        instanceID: UUID,
        sequence: UInt64,
        event: String,
        actorRole: String,
        time: Date,
        amounts: [(label: String, tiyn: Int64)],
        inputHash: [UInt8],
        subjects: [[UInt8]],
        previousLeafIndex: UInt64
    ) {
        self.tenantID = tenantID
        self.service = service
        self.instanceID = instanceID
        self.sequence = sequence
        self.event = event
        self.actorRole = actorRole
        self.timeMicroseconds = Int64((time.timeIntervalSince1970 * 1_000_000).rounded())
        self.amounts = amounts
        self.inputHash = inputHash
        self.subjects = subjects
        self.previousLeafIndex = previousLeafIndex
    }

    public static func == (lhs: AuditEntry, rhs: AuditEntry) -> Bool {
        (try? lhs.encoded()) == (try? rhs.encoded())
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(try? encoded())
    }

    /// The canonical bytes, or an error naming the field that does not fit the format.
    public func encoded() throws(AuditEntryError) -> [UInt8] {
        var out: [UInt8] = [Self.version]
        out += tenantID.bytes
        try out.appendText(service, field: "service", range: 1...64)
        out += instanceID.bytes
        out.appendInteger(sequence)
        try out.appendText(event, field: "event", range: 1...64)
        try out.appendText(actorRole, field: "actor_role", range: 1...32)
        out.appendInteger(UInt64(bitPattern: timeMicroseconds))
        guard amounts.count <= Self.maximumAmounts else {
            throw .invalid(field: "amounts", reason: "at most \(Self.maximumAmounts)")
        }
        out.append(UInt8(amounts.count))
        for amount in amounts {
            try out.appendText(amount.label, field: "amounts.label", range: 1...32)
            out.appendInteger(UInt64(bitPattern: amount.tiyn))
        }
        guard inputHash.count == 32 else { throw .invalid(field: "input_hash", reason: "must be 32 bytes") }
        out += inputHash
        guard subjects.count <= Self.maximumSubjects, subjects.allSatisfy({ $0.count == 32 }) else {
            throw .invalid(field: "subjects", reason: "at most \(Self.maximumSubjects) hashes of 32 bytes")
        }
        out.append(UInt8(subjects.count))
        for subject in subjects { out += subject }
        out.appendInteger(previousLeafIndex)
        return out
    }

    /// Decodes canonical bytes; anything else (another version, a short or long buffer, a field
    /// outside the limits `encoded()` enforces) is refused, so the bytes of a decoded entry are
    /// exactly what it encodes to: no step has a second spelling.
    public init(decoding bytes: [UInt8]) throws(AuditEntryError) {
        var reader = ByteReader(bytes)
        guard try reader.byte() == Self.version else { throw .invalid(field: "version", reason: "unknown version") }
        tenantID = try reader.uuid()
        service = try reader.text(field: "service", range: 1...64)
        instanceID = try reader.uuid()
        sequence = try reader.integer()
        event = try reader.text(field: "event", range: 1...64)
        actorRole = try reader.text(field: "actor_role", range: 1...32)
        timeMicroseconds = Int64(bitPattern: try reader.integer())
        let amountCount = Int(try reader.byte())
        guard amountCount <= Self.maximumAmounts else {
            throw .invalid(field: "amounts", reason: "at most \(Self.maximumAmounts)")
        }
        var amounts: [(label: String, tiyn: Int64)] = []
        amounts.reserveCapacity(amountCount)
        for _ in 0..<amountCount {
            let label = try reader.text(field: "amounts.label", range: 1...32)
            amounts.append((label, Int64(bitPattern: try reader.integer())))
        }
        self.amounts = amounts
        inputHash = try reader.bytes(32)
        let subjectCount = Int(try reader.byte())
        guard subjectCount <= Self.maximumSubjects else {
            throw .invalid(field: "subjects", reason: "at most \(Self.maximumSubjects) hashes of 32 bytes")
        }
        var subjects: [[UInt8]] = []
        subjects.reserveCapacity(subjectCount)
        for _ in 0..<subjectCount { subjects.append(try reader.bytes(32)) }
        self.subjects = subjects
        previousLeafIndex = try reader.integer()
        guard reader.isAtEnd else { throw .invalid(field: "entry", reason: "bytes after the last field") }
    }

    /// The entry's leaf hash in the tenant's tree.
    public func leafHash() throws(AuditEntryError) -> TreeHash {
        MerkleHashing.leafHash(try encoded())
    }
}

/// An entry that does not fit the leaf format.
public enum AuditEntryError: Error, Equatable, CustomStringConvertible {
    case invalid(field: String, reason: String)
    case truncated

    public var description: String {
        switch self {
        case .invalid(let field, let reason): "audit entry \(field): \(reason)"
        case .truncated: "audit entry ends early"
        }
    }
}

extension UUID {
    fileprivate var bytes: [UInt8] {
        withUnsafeBytes(of: uuid) { Array($0) }
    }
}

extension [UInt8] {
    fileprivate mutating func appendInteger(_ value: UInt64) {
        for shift in stride(from: 56, through: 0, by: -8) { append(UInt8(truncatingIfNeeded: value >> UInt64(shift))) }
    }

    fileprivate mutating func appendText(
        _ text: String,
        field: String,
        range: ClosedRange<Int>
    ) throws(AuditEntryError) {
        let bytes = Array(text.utf8)
        guard range.contains(bytes.count) else {
            throw .invalid(field: field, reason: "\(range.lowerBound) to \(range.upperBound) bytes of UTF-8")
        }
        append(UInt8(bytes.count))
        self += bytes
    }
}

/// Reads the fields of an encoded entry in order, copying only what it returns.
private struct ByteReader {
    let buffer: [UInt8]
    var position = 0

    init(_ buffer: [UInt8]) {
        self.buffer = buffer
    }

    var isAtEnd: Bool { position == buffer.count }

    private mutating func take(_ count: Int) throws(AuditEntryError) -> ArraySlice<UInt8> {
        guard count <= buffer.count - position else { throw .truncated }
        defer { position += count }
        return buffer[position..<(position + count)]
    }

    mutating func bytes(_ count: Int) throws(AuditEntryError) -> [UInt8] {
        Array(try take(count))
    }

    mutating func byte() throws(AuditEntryError) -> UInt8 {
        try take(1).first ?? 0
    }

    mutating func integer() throws(AuditEntryError) -> UInt64 {
        try take(8).reduce(0) { $0 << 8 | UInt64($1) }
    }

    mutating func uuid() throws(AuditEntryError) -> UUID {
        let b = try take(16)
        let s = b.startIndex
        return UUID(
            uuid: (
                b[s], b[s + 1], b[s + 2], b[s + 3], b[s + 4], b[s + 5], b[s + 6], b[s + 7], b[s + 8], b[s + 9],
                b[s + 10], b[s + 11], b[s + 12], b[s + 13], b[s + 14], b[s + 15]
            )
        )
    }

    /// A length-prefixed UTF-8 field whose byte length must lie in `range`, as `encoded()` demands.
    mutating func text(field: String, range: ClosedRange<Int>) throws(AuditEntryError) -> String {
        let count = Int(try byte())
        guard range.contains(count) else {
            throw .invalid(field: field, reason: "\(range.lowerBound) to \(range.upperBound) bytes of UTF-8")
        }
        guard let text = String(validating: try take(count), as: UTF8.self) else {
            throw .invalid(field: field, reason: "not UTF-8")
        }
        return text
    }
}
