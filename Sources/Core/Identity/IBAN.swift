/// A Kazakh bank account number in IBAN form (ISO 13616): `KZ`, two check digits, the bank's
/// three-character code and thirteen characters of the account, twenty in all. People write it
/// in groups of four and in either case; it is kept without spaces, in capitals.
///
/// The check digits make the whole number, moved so that the country and check digits come
/// last and each letter read as two digits (A = 10 … Z = 35), leave 1 when divided by 97.
public struct IBAN: Hashable, Sendable, CustomStringConvertible {
    public static let length = 20

    /// The twenty characters, capitals and digits.
    public let text: String

    /// Validates `input` (spaces anywhere are ignored) and names `field` in the error.
    public init(_ input: String, field: String) throws(AdalError) {
        let compact = String(input.filter { !$0.isWhitespace }.uppercased())
        guard compact.unicodeScalars.allSatisfy({ ("A"..."Z").contains($0) || ("0"..."9").contains($0) }) else {
            throw .invalidField(field: field, reason: Self.lettersAndDigits)
        }
        guard compact.hasPrefix("KZ") else { throw .invalidField(field: field, reason: Self.notKazakh) }
        guard compact.count == Self.length else {
            throw .invalidField(field: field, reason: Self.wrongLength(compact.count))
        }
        guard compact.dropFirst(2).prefix(2).allSatisfy(\.isNumber), Self.remainder(compact) == 1 else {
            throw .invalidField(field: field, reason: Self.checkDigits)
        }
        text = compact
    }

    public var description: String { text }

    /// Why a number is refused (the pages say each in the reader's language).
    public static let lettersAndDigits = "an IBAN holds only Latin letters and digits"
    public static let notKazakh = "a Kazakh IBAN starts with KZ"
    public static let checkDigits = "the IBAN's check digits do not match (a character mistyped?)"
    public static func wrongLength(_ count: some CustomStringConvertible) -> String {
        "a Kazakh IBAN has \(length) characters, this one \(count)"
    }

    /// The number in groups of four, as a bank prints it.
    public var grouped: String {
        stride(from: 0, to: text.count, by: 4).map { start in
            String(text.dropFirst(start).prefix(4))
        }
        .joined(separator: " ")
    }

    /// The number with all but its country and last four characters hidden, for people who need
    /// to know which account it is, not to pay into it.
    public var masked: String { "KZ•• •••• •••• •••• " + text.suffix(4) }

    /// The ISO 7064 MOD 97-10 remainder of the rearranged number, read digit by digit.
    static func remainder(_ text: String) -> Int {
        let rearranged = text.dropFirst(4) + text.prefix(4)
        var remainder = 0
        for scalar in rearranged.unicodeScalars {
            let value = Int(scalar.value)
            if value >= 0x41 {
                remainder = (remainder * 100 + value - 0x41 + 10) % 97
            } else {
                remainder = (remainder * 10 + value - 0x30) % 97
            }
        }
        return remainder
    }
}
