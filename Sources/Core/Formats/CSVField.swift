import Foundation

/// One CSV field as written (RFC 4180): quoted when it holds the separator, a quote or a line
/// break, and prefixed with an apostrophe when a spreadsheet would read it as a formula (`=`,
/// `+`, `-`, `@`).
public func csvField(_ value: String, separator: Character) -> String {
    var value = value
    if let first = value.first, "=+-@".contains(first) { value = "'" + value }
    guard value.contains(where: { $0 == separator || $0 == "\"" || $0 == "\n" || $0 == "\r" }) else { return value }
    return "\"" + value.replacingOccurrences(of: "\"", with: "\"\"") + "\""
}

/// One field of a comma-separated file (``csvField(_:separator:)`` with a comma).
public func csvField(_ value: String) -> String { csvField(value, separator: ",") }

/// How a CSV file is written for its readers: RFC 4180 (commas, a decimal point, no byte-order
/// mark) for programs, or for people opening it in a spreadsheet — a UTF-8 byte-order mark (one
/// that finds none reads the file in the computer's own code page, garbling Kazakh and Russian)
/// and, where the decimal mark is a comma (Russian and Kazakh), semicolons between fields, as a
/// spreadsheet set up so splits a CSV file and reads `1250,50` as a number.
public struct CSVDialect: Sendable, Equatable {
    public var separator: Character
    public var decimalMark: Character
    public var byteOrderMark: Bool

    public static let rfc4180 = CSVDialect(separator: ",", decimalMark: ".", byteOrderMark: false)

    /// For people: with a byte-order mark; semicolons and a decimal comma when `decimalComma`.
    public static func people(decimalComma: Bool) -> CSVDialect {
        decimalComma
            ? CSVDialect(separator: ";", decimalMark: ",", byteOrderMark: true)
            : CSVDialect(separator: ",", decimalMark: ".", byteOrderMark: true)
    }

    /// `rows` (the header first) as the file's text, each record ending in CRLF.
    public func text(_ rows: [[String]]) -> String {
        let separator = self.separator
        let records = rows.map { row in
            row.map { csvField($0, separator: separator) }.joined(separator: String(separator)) + "\r\n"
        }
        return (byteOrderMark ? "\u{FEFF}" : "") + records.joined()
    }
}
