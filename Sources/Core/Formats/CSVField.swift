import Foundation

/// One CSV field as written (RFC 4180): quoted when it holds a comma, quote or line break, and
/// prefixed with an apostrophe when a spreadsheet would read it as a formula (`=`, `+`, `-`, `@`).
public func csvField(_ value: String) -> String {
    var value = value
    if let first = value.first, "=+-@".contains(first) { value = "'" + value }
    guard value.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" }) else { return value }
    return "\"" + value.replacingOccurrences(of: "\"", with: "\"\"") + "\""
}
