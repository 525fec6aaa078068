import Foundation

extension [UInt8] {
    /// Lower-case hexadecimal, for logs and for bytea values sent as text.
    var hexString: String { map { String(format: "%02x", $0) }.joined() }
}
