import Foundation

/// A UUID's 36-character text (`8-4-4-4-12` hex digits), read and written without Foundation's
/// C `sscanf` and `snprintf`: a till's charge reads its id and writes ids several times, and
/// those calls were about 3 % of the server's CPU in `adal bench meals` (docs/meal-payments.md,
/// "Less of the server's CPU per charge").
extension UUID {
    /// The UUID `text` spells, read as `UUID(uuidString:)` reads it: exactly 36 characters,
    /// hyphens after the 8th, 12th, 16th and 20th hex digit, the digits in either case.
    public init?(hyphenated text: some StringProtocol) {
        var bytes: uuid_t = (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
        let read = withUnsafeMutableBytes(of: &bytes) { raw -> Bool in
            var utf8 = text.utf8.makeIterator()
            for index in 0..<16 {
                if index == 4 || index == 6 || index == 8 || index == 10 {
                    guard utf8.next() == UInt8(ascii: "-") else { return false }
                }
                guard let high = utf8.next().flatMap(Self.nibble), let low = utf8.next().flatMap(Self.nibble) else {
                    return false
                }
                raw[index] = high << 4 | low
            }
            return utf8.next() == nil
        }
        guard read else { return nil }
        self.init(uuid: bytes)
    }

    /// `uuidString.lowercased()`: the form Adal stores in steps' inputs and keys.
    public var lowercasedText: String { text(digits: Self.lowerDigits) }

    /// `uuidString`: capitals, as `JSONEncoder` writes a UUID.
    public var uppercasedText: String { text(digits: Self.upperDigits) }

    private func text(digits: StaticString) -> String {
        withUnsafeBytes(of: uuid) { raw in
            digits.withUTF8Buffer { table in
                String(unsafeUninitializedCapacity: 36) { out in
                    var position = 0
                    for index in 0..<16 {
                        if index == 4 || index == 6 || index == 8 || index == 10 {
                            out[position] = UInt8(ascii: "-")
                            position += 1
                        }
                        out[position] = table[Int(raw[index] >> 4)]
                        out[position + 1] = table[Int(raw[index] & 0x0F)]
                        position += 2
                    }
                    return position
                }
            }
        }
    }

    private static let lowerDigits: StaticString = "0123456789abcdef"
    private static let upperDigits: StaticString = "0123456789ABCDEF"

    private static func nibble(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): byte - UInt8(ascii: "A") + 10
        default: nil
        }
    }
}
