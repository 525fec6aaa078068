/// A Kazakh twelve-digit identifier: an IIN for a person or a BIN for an organisation.
///
/// Both share one check-digit rule: the twelfth digit is the sum of the first eleven weighted
/// 1…11, modulo 11; when that gives 10, the weights 3,4,…,11,1,2 are tried; when that also gives
/// 10, the number is invalid.
public struct NationalIdentifier: Hashable, Sendable, CustomStringConvertible {
    /// Which register a number belongs to; only changes the wording of errors.
    public enum Kind: String, Sendable {
        case iin = "IIN"
        case bin = "BIN"
    }

    /// The twelve digits as text.
    public let digits: String
    public let kind: Kind

    /// Validates `text` (surrounding spaces are ignored) and names `field` in the error.
    public init(_ text: String, kind: Kind, field: String) throws(AdalError) {
        let trimmed = text.trimmingWhitespace()
        guard trimmed.utf8.count == 12, trimmed.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }) else {
            throw .invalidField(field: field, reason: "\(kind.rawValue) must be exactly 12 digits")
        }
        let values = trimmed.utf8.map { Int($0 - 0x30) }
        guard let check = Self.checkDigit(of: values), check == values[11] else {
            throw .invalidField(field: field, reason: "\(kind.rawValue) check digit does not match")
        }
        self.digits = trimmed
        self.kind = kind
    }

    public var description: String { digits }

    /// The check digit for the first eleven of `digits`, or nil when the number cannot be valid.
    static func checkDigit(of digits: [Int]) -> Int? {
        let first = (0..<11).reduce(0) { $0 + digits[$1] * ($1 + 1) } % 11
        if first != 10 { return first }
        let secondWeights = [3, 4, 5, 6, 7, 8, 9, 10, 11, 1, 2]
        let second = (0..<11).reduce(0) { $0 + digits[$1] * secondWeights[$1] } % 11
        return second == 10 ? nil : second
    }

    /// Completes eleven digits with their check digit; nil when no valid number starts so.
    /// Used to generate demo identifiers, never to repair input.
    public static func completing(_ elevenDigits: String) -> String? {
        let values = elevenDigits.utf8.map { Int($0) - 0x30 }
        guard values.count == 11, values.allSatisfy({ (0...9).contains($0) }),
            let check = checkDigit(of: values)
        else { return nil }
        return elevenDigits + String(check)
    }
}

/// An individual identification number (ИИН / ЖСН) of a person.
public typealias IIN = NationalIdentifier

extension NationalIdentifier {
    /// Parses a person's IIN, naming `field` in the error.
    public static func iin(_ text: String, field: String = "iin") throws(AdalError) -> NationalIdentifier {
        try NationalIdentifier(text, kind: .iin, field: field)
    }

    /// Parses an organisation's BIN, naming `field` in the error.
    public static func bin(_ text: String, field: String = "bin") throws(AdalError) -> NationalIdentifier {
        try NationalIdentifier(text, kind: .bin, field: field)
    }
}

extension String {
    /// The string without leading and trailing spaces, tabs and line breaks.
    public func trimmingWhitespace() -> String {
        let isSpace: (Character) -> Bool = { $0.isWhitespace }
        guard let start = firstIndex(where: { !isSpace($0) }), let end = lastIndex(where: { !isSpace($0) })
        else { return "" }
        return String(self[start...end])
    }
}
