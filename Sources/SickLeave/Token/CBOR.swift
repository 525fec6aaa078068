/// A CBOR data item (RFC 8949): what a sick-leave token's payload and its COSE envelope are made of.
///
/// Encoding is deterministic (RFC 8949 §4.2.1): integers, lengths and tags in their shortest
/// form, floats in the shortest of half, single and double precision that keeps the value, map
/// entries sorted by their encoded keys, definite lengths only. Decoding also accepts
/// indefinite lengths and non-shortest forms (both appear in the RFC's examples); a token's
/// signature covers its bytes, so any other spelling of a token does not verify.
public indirect enum CBOR: Hashable, Sendable {
    case unsigned(UInt64)
    /// The integer −1 − n.
    case negative(UInt64)
    case bytes([UInt8])
    case text(String)
    case array([CBOR])
    /// Entries in the order given; `encoded()` writes them in deterministic order.
    case map([MapEntry])
    case tagged(UInt64, CBOR)
    /// A simple value other than false, true, null and undefined (0–19, 32–255).
    case simple(UInt8)
    case bool(Bool)
    case null
    case undefined
    case float(Double)

    public struct MapEntry: Hashable, Sendable {
        public var key: CBOR
        public var value: CBOR

        public init(_ key: CBOR, _ value: CBOR) {
            self.key = key
            self.value = value
        }
    }

    /// An integer, positive or negative.
    public static func integer(_ value: Int64) -> CBOR {
        value >= 0 ? .unsigned(UInt64(value)) : .negative(UInt64(-(value + 1)))
    }

    /// The value of an integer item that fits in Int64.
    public var integerValue: Int64? {
        switch self {
        case .unsigned(let n) where n <= UInt64(Int64.max): Int64(n)
        case .negative(let n) where n <= UInt64(Int64.max): -1 - Int64(n)
        default: nil
        }
    }

    /// The value stored under `key` in a map, if any.
    public subscript(key: CBOR) -> CBOR? {
        guard case .map(let entries) = self else { return nil }
        return entries.first { $0.key == key }?.value
    }
}

// MARK: - Encoding

extension CBOR {
    /// The deterministic encoding.
    public func encoded() -> [UInt8] {
        var out: [UInt8] = []
        encode(into: &out)
        return out
    }

    private func encode(into out: inout [UInt8]) {
        switch self {
        case .unsigned(let n): Self.head(0, n, into: &out)
        case .negative(let n): Self.head(1, n, into: &out)
        case .bytes(let bytes):
            Self.head(2, UInt64(bytes.count), into: &out)
            out += bytes
        case .text(let text):
            let bytes = Array(text.utf8)
            Self.head(3, UInt64(bytes.count), into: &out)
            out += bytes
        case .array(let items):
            Self.head(4, UInt64(items.count), into: &out)
            for item in items { item.encode(into: &out) }
        case .map(let entries):
            Self.head(5, UInt64(entries.count), into: &out)
            let sorted = entries.map { (key: $0.key.encoded(), value: $0.value) }
                .sorted { $0.key.lexicographicallyPrecedes($1.key) }
            for entry in sorted {
                out += entry.key
                entry.value.encode(into: &out)
            }
        case .tagged(let tag, let item):
            Self.head(6, tag, into: &out)
            item.encode(into: &out)
        case .simple(let value):
            if value < 24 {
                out.append(0xe0 | value)
            } else {
                out += [0xf8, value]
            }
        case .bool(let value): out.append(value ? 0xf5 : 0xf4)
        case .null: out.append(0xf6)
        case .undefined: out.append(0xf7)
        case .float(let value): Self.float(value, into: &out)
        }
    }

    /// A major type with its argument in the shortest form.
    private static func head(_ major: UInt8, _ argument: UInt64, into out: inout [UInt8]) {
        let type = major << 5
        switch argument {
        case 0..<24: out.append(type | UInt8(argument))
        case 24...0xff: out += [type | 24, UInt8(argument)]
        case 0x100...0xffff:
            out.append(type | 25)
            append(argument, bytes: 2, into: &out)
        case 0x1_0000...0xffff_ffff:
            out.append(type | 26)
            append(argument, bytes: 4, into: &out)
        default:
            out.append(type | 27)
            append(argument, bytes: 8, into: &out)
        }
    }

    private static func append(_ value: UInt64, bytes: Int, into out: inout [UInt8]) {
        for shift in stride(from: (bytes - 1) * 8, through: 0, by: -8) {
            out.append(UInt8(truncatingIfNeeded: value >> UInt64(shift)))
        }
    }

    /// The shortest of half, single or double precision that represents `value` exactly.
    private static func float(_ value: Double, into out: inout [UInt8]) {
        if value.isNaN {
            out += [0xf9, 0x7e, 0x00]
            return
        }
        let half = Float16(value)
        if Double(half) == value {
            out.append(0xf9)
            append(UInt64(half.bitPattern), bytes: 2, into: &out)
            return
        }
        let single = Float(value)
        if Double(single) == value {
            out.append(0xfa)
            append(UInt64(single.bitPattern), bytes: 4, into: &out)
            return
        }
        out.append(0xfb)
        append(value.bitPattern, bytes: 8, into: &out)
    }
}

// MARK: - Decoding

/// Why bytes are not one CBOR item.
public enum CBORError: Error, Equatable, CustomStringConvertible {
    case truncated
    case trailingBytes
    case malformed(String)
    case tooDeep

    public var description: String {
        switch self {
        case .truncated: "the CBOR data ends early"
        case .trailingBytes: "bytes follow the CBOR item"
        case .malformed(let reason): "malformed CBOR: \(reason)"
        case .tooDeep: "CBOR nested too deeply"
        }
    }
}

extension CBOR {
    /// Nesting beyond this is refused, so hostile input cannot exhaust the stack.
    public static let maximumDepth = 16

    /// Decodes exactly one item from `bytes`.
    public init(decoding bytes: [UInt8]) throws(CBORError) {
        var reader = CBORReader(bytes: bytes)
        self = try reader.item(depth: 0)
        guard reader.isAtEnd else { throw .trailingBytes }
    }
}

private struct CBORReader {
    let bytes: [UInt8]
    var position = 0

    var isAtEnd: Bool { position == bytes.count }

    mutating func byte() throws(CBORError) -> UInt8 {
        guard position < bytes.count else { throw .truncated }
        defer { position += 1 }
        return bytes[position]
    }

    mutating func take(_ count: UInt64) throws(CBORError) -> ArraySlice<UInt8> {
        guard count <= UInt64(bytes.count - position) else { throw .truncated }
        let end = position + Int(count)
        defer { position = end }
        return bytes[position..<end]
    }

    mutating func integer(bytes count: Int) throws(CBORError) -> UInt64 {
        try take(UInt64(count)).reduce(0) { $0 << 8 | UInt64($1) }
    }

    /// The argument of an initial byte's additional information; nil for indefinite length.
    mutating func argument(_ info: UInt8) throws(CBORError) -> UInt64? {
        switch info {
        case 0..<24: return UInt64(info)
        case 24: return try integer(bytes: 1)
        case 25: return try integer(bytes: 2)
        case 26: return try integer(bytes: 4)
        case 27: return try integer(bytes: 8)
        case 31: return nil
        default: throw .malformed("reserved additional information \(info)")
        }
    }

    mutating func isBreak() throws(CBORError) -> Bool {
        guard position < bytes.count else { throw .truncated }
        if bytes[position] == 0xff {
            position += 1
            return true
        }
        return false
    }

    mutating func item(depth: Int) throws(CBORError) -> CBOR {
        guard depth <= CBOR.maximumDepth else { throw .tooDeep }
        let initial = try byte()
        let major = initial >> 5
        let info = initial & 0x1f
        switch major {
        case 0, 1:
            guard let value = try argument(info) else { throw .malformed("an integer of indefinite length") }
            return major == 0 ? .unsigned(value) : .negative(value)
        case 2, 3:
            var content: [UInt8] = []
            if let length = try argument(info) {
                content = Array(try take(length))
            } else {
                // Indefinite length: definite-length chunks of the same major type, then a break.
                while !(try isBreak()) {
                    let chunk = try byte()
                    guard chunk >> 5 == major, let length = try argument(chunk & 0x1f) else {
                        throw .malformed("a chunk of an indefinite-length string is not a definite string of its type")
                    }
                    content += try take(length)
                }
            }
            if major == 2 { return .bytes(content) }
            guard let text = String(validating: content, as: UTF8.self) else { throw .malformed("text is not UTF-8") }
            return .text(text)
        case 4:
            var items: [CBOR] = []
            if let count = try argument(info) {
                // Every item takes at least one byte: a count larger than what is left is a lie.
                guard count <= UInt64(bytes.count - position) else { throw .truncated }
                for _ in 0..<count { items.append(try item(depth: depth + 1)) }
            } else {
                while !(try isBreak()) { items.append(try item(depth: depth + 1)) }
            }
            return .array(items)
        case 5:
            var entries: [CBOR.MapEntry] = []
            if let count = try argument(info) {
                guard count <= UInt64(bytes.count - position) / 2 else { throw .truncated }
                for _ in 0..<count {
                    entries.append(CBOR.MapEntry(try item(depth: depth + 1), try item(depth: depth + 1)))
                }
            } else {
                while !(try isBreak()) {
                    entries.append(CBOR.MapEntry(try item(depth: depth + 1), try item(depth: depth + 1)))
                }
            }
            guard Set(entries.map(\.key)).count == entries.count else { throw .malformed("a map repeats a key") }
            return .map(entries)
        case 6:
            guard let tag = try argument(info) else { throw .malformed("a tag of indefinite length") }
            return .tagged(tag, try item(depth: depth + 1))
        default:
            return try simpleOrFloat(info)
        }
    }

    mutating func simpleOrFloat(_ info: UInt8) throws(CBORError) -> CBOR {
        switch info {
        case 20: return .bool(false)
        case 21: return .bool(true)
        case 22: return .null
        case 23: return .undefined
        case 0..<20: return .simple(info)
        case 24:
            let value = try byte()
            guard value >= 32 else { throw .malformed("simple value \(value) in two bytes") }
            return .simple(value)
        case 25: return .float(Double(Float16(bitPattern: UInt16(try integer(bytes: 2)))))
        case 26: return .float(Double(Float(bitPattern: UInt32(try integer(bytes: 4)))))
        case 27: return .float(Double(bitPattern: try integer(bytes: 8)))
        case 31: throw .malformed("a break outside an indefinite-length item")
        default: throw .malformed("reserved additional information \(info)")
        }
    }
}
