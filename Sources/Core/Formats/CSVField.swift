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
