extension InputValue {
    /// JSON that is malformed (RFC 8259), or that a step's input cannot hold: a number with a
    /// fraction or an exponent, or beyond 64 bits; nesting deeper than ``maximumDepth``; a key
    /// twice in one object. `offset` is the byte where reading stopped.
    public struct SyntaxError: Error, Equatable, CustomStringConvertible {
        public var offset: Int
        public var reason: String
        public var description: String { "\(reason) (at byte \(offset))" }
    }

    /// Arrays and objects inside one another at most.
    public static let maximumDepth = 32

    /// The value `json` holds, read by the rules of RFC 8259 with no extension (no comments,
    /// trailing commas or bare words), with whole numbers only. Gives the value `JSONDecoder`
    /// gives, with less of the server's CPU (the tills' charges, docs/meal-payments.md).
    public init(json: some Collection<UInt8>) throws(SyntaxError) {
        let parsed: Result<InputValue, SyntaxError>? = json.withContiguousStorageIfAvailable { bytes in
            var reader = JSONReader(bytes: bytes)
            return Result { () throws(SyntaxError) in try reader.document() }
        }
        switch parsed
            ?? Array(json).withUnsafeBufferPointer({ bytes in
                var reader = JSONReader(bytes: bytes)
                return Result { () throws(SyntaxError) in try reader.document() }
            })
        {
        case .success(let value): self = value
        case .failure(let error): throw error
        }
    }
}

/// One pass over a JSON text's bytes.
private struct JSONReader {
    let bytes: UnsafeBufferPointer<UInt8>
    var index = 0

    init(bytes: UnsafeBufferPointer<UInt8>) {
        self.bytes = bytes
    }

    func fail(_ reason: String) -> InputValue.SyntaxError {
        InputValue.SyntaxError(offset: index, reason: reason)
    }

    mutating func document() throws(InputValue.SyntaxError) -> InputValue {
        let value = try self.value(depth: 0)
        skipSpace()
        guard index == bytes.count else { throw fail("more after the JSON value") }
        return value
    }

    mutating func skipSpace() {
        while index < bytes.count {
            switch bytes[index] {
            case 0x20, 0x09, 0x0A, 0x0D: index += 1
            default: return
            }
        }
    }

    mutating func value(depth: Int) throws(InputValue.SyntaxError) -> InputValue {
        skipSpace()
        guard index < bytes.count else { throw fail("a value is missing") }
        switch bytes[index] {
        case UInt8(ascii: "{"): return try object(depth: depth + 1)
        case UInt8(ascii: "["): return try array(depth: depth + 1)
        case UInt8(ascii: "\""): return .string(try string())
        case UInt8(ascii: "t"): return try literal("true", .bool(true))
        case UInt8(ascii: "f"): return try literal("false", .bool(false))
        case UInt8(ascii: "n"): return try literal("null", .null)
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return .integer(try number())
        default: throw fail("not a JSON value")
        }
    }

    mutating func literal(_ word: StaticString, _ value: InputValue) throws(InputValue.SyntaxError) -> InputValue {
        let count = word.utf8CodeUnitCount
        guard index + count <= bytes.count,
            UnsafeBufferPointer(start: word.utf8Start, count: count).elementsEqual(bytes[index..<index + count])
        else { throw fail("not a JSON value") }
        index += count
        return value
    }

    mutating func object(depth: Int) throws(InputValue.SyntaxError) -> InputValue {
        guard depth <= InputValue.maximumDepth else { throw fail("nested deeper than \(InputValue.maximumDepth)") }
        index += 1
        var members: [String: InputValue] = [:]
        skipSpace()
        if index < bytes.count, bytes[index] == UInt8(ascii: "}") {
            index += 1
            return .object(members)
        }
        while true {
            skipSpace()
            guard index < bytes.count, bytes[index] == UInt8(ascii: "\"") else { throw fail("a key is missing") }
            let keyOffset = index
            let key = try string()
            skipSpace()
            guard index < bytes.count, bytes[index] == UInt8(ascii: ":") else { throw fail("':' is missing") }
            index += 1
            let member = try value(depth: depth)
            guard members.updateValue(member, forKey: key) == nil else {
                throw InputValue.SyntaxError(offset: keyOffset, reason: "the key \"\(key)\" is given twice")
            }
            if try closes(with: "}", "object") { return .object(members) }
        }
    }

    mutating func array(depth: Int) throws(InputValue.SyntaxError) -> InputValue {
        guard depth <= InputValue.maximumDepth else { throw fail("nested deeper than \(InputValue.maximumDepth)") }
        index += 1
        var elements: [InputValue] = []
        skipSpace()
        if index < bytes.count, bytes[index] == UInt8(ascii: "]") {
            index += 1
            return .array(elements)
        }
        while true {
            elements.append(try value(depth: depth))
            if try closes(with: "]", "list") { return .array(elements) }
        }
    }

    /// After a member or an element: true at `close`, false at a comma (either read past).
    mutating func closes(with close: Unicode.Scalar, _ what: String) throws(InputValue.SyntaxError) -> Bool {
        skipSpace()
        guard index < bytes.count else { throw fail("the \(what) is not closed") }
        switch bytes[index] {
        case UInt8(ascii: ","):
            index += 1
            return false
        case UInt8(ascii: close):
            index += 1
            return true
        default: throw fail("',' or '\(close)' is missing")
        }
    }

    /// A whole number: `-`, then `0` or digits not starting with `0`; a fraction or an exponent
    /// is refused by name, since amounts are whole tiyn.
    mutating func number() throws(InputValue.SyntaxError) -> Int64 {
        let negative = bytes[index] == UInt8(ascii: "-")
        if negative { index += 1 }
        let start = index
        var magnitude: UInt64 = 0
        while index < bytes.count, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(bytes[index]) {
            let (times, overflow) = magnitude.multipliedReportingOverflow(by: 10)
            let (sum, overflowAgain) = times.addingReportingOverflow(UInt64(bytes[index] - UInt8(ascii: "0")))
            guard !overflow, !overflowAgain else { throw fail("the number is too large") }
            magnitude = sum
            index += 1
        }
        guard index > start else { throw fail("a digit is missing") }
        guard bytes[start] != UInt8(ascii: "0") || index == start + 1 else { throw fail("a number starts with 0") }
        if index < bytes.count, [UInt8(ascii: "."), UInt8(ascii: "e"), UInt8(ascii: "E")].contains(bytes[index]) {
            throw fail("numbers must be whole (amounts are in tiyn)")
        }
        if negative {
            guard magnitude <= UInt64(Int64.max) + 1 else { throw fail("the number is too large") }
            return magnitude == UInt64(Int64.max) + 1 ? Int64.min : -Int64(magnitude)
        }
        guard magnitude <= UInt64(Int64.max) else { throw fail("the number is too large") }
        return Int64(magnitude)
    }

    /// A string's text: its escapes resolved, its bytes checked to be UTF-8.
    mutating func string() throws(InputValue.SyntaxError) -> String {
        index += 1
        let start = index
        // Most strings have no escape: their bytes are the text.
        while index < bytes.count {
            let byte = bytes[index]
            if byte == UInt8(ascii: "\"") {
                let text = String(validating: bytes[start..<index], as: UTF8.self)
                guard let text else { throw fail("the text is not UTF-8") }
                index += 1
                return text
            }
            if byte == UInt8(ascii: "\\") { break }
            guard byte >= 0x20 else { throw fail("a control character in text must be escaped") }
            index += 1
        }
        var text = Array(bytes[start..<index])
        while index < bytes.count {
            let byte = bytes[index]
            switch byte {
            case UInt8(ascii: "\""):
                guard let result = String(validating: text, as: UTF8.self) else { throw fail("the text is not UTF-8") }
                index += 1
                return result
            case UInt8(ascii: "\\"):
                index += 1
                try escape(into: &text)
            case ..<0x20:
                throw fail("a control character in text must be escaped")
            default:
                text.append(byte)
                index += 1
            }
        }
        throw fail("the text is not closed")
    }

    /// The escape after a backslash, its character appended as UTF-8.
    mutating func escape(into text: inout [UInt8]) throws(InputValue.SyntaxError) {
        guard index < bytes.count else { throw fail("the text is not closed") }
        let byte = bytes[index]
        index += 1
        switch byte {
        case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): text.append(byte)
        case UInt8(ascii: "b"): text.append(0x08)
        case UInt8(ascii: "f"): text.append(0x0C)
        case UInt8(ascii: "n"): text.append(0x0A)
        case UInt8(ascii: "r"): text.append(0x0D)
        case UInt8(ascii: "t"): text.append(0x09)
        case UInt8(ascii: "u"):
            var scalar = try hex4()
            if (0xD800..<0xDC00).contains(scalar) {
                guard index + 1 < bytes.count, bytes[index] == UInt8(ascii: "\\"), bytes[index + 1] == UInt8(ascii: "u")
                else { throw fail("half of a surrogate pair") }
                index += 2
                let low = try hex4()
                guard (0xDC00..<0xE000).contains(low) else { throw fail("half of a surrogate pair") }
                scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
            } else if (0xDC00..<0xE000).contains(scalar) {
                throw fail("half of a surrogate pair")
            }
            guard let character = Unicode.Scalar(scalar) else { throw fail("not a character") }
            text.append(contentsOf: UTF8.encode(character)!)
        default:
            throw fail("an unknown escape")
        }
    }

    mutating func hex4() throws(InputValue.SyntaxError) -> UInt32 {
        guard index + 4 <= bytes.count else { throw fail("\\u needs four hex digits") }
        var value: UInt32 = 0
        for _ in 0..<4 {
            let byte = bytes[index]
            let digit: UInt8
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = byte - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = byte - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = byte - UInt8(ascii: "A") + 10
            default: throw fail("\\u needs four hex digits")
            }
            value = value << 4 | UInt32(digit)
            index += 1
        }
        return value
    }
}
