import Crypto

import struct Foundation.Data

/// A 256-bit random secret, as sent in a session cookie or an API token, and its SHA-256, which
/// is all the database keeps. A stolen database copy therefore opens no session.
public struct SecretToken: Hashable, Sendable {
    /// The secret, base64url without padding (43 characters).
    public let text: String

    public init(text: String) {
        self.text = text
    }

    /// A fresh secret from the system's cryptographic random source.
    public static func generate() -> SecretToken {
        var generator = SystemRandomNumberGenerator()
        let bytes = (0..<32).map { _ in UInt8.random(in: 0...255, using: &generator) }
        return SecretToken(text: Self.base64URL(bytes))
    }

    /// SHA-256 of the secret's text: the lookup key stored in the database.
    public var hash: [UInt8] { Array(SHA256.hash(data: Data(text.utf8))) }

    /// True when `text` could be a token at all, checked before any database look-up.
    public static func isWellFormed(_ text: String) -> Bool {
        text.utf8.count == 43
            && text.utf8.allSatisfy {
                (0x41...0x5a).contains($0) || (0x61...0x7a).contains($0) || (0x30...0x39).contains($0) || $0 == 0x2d
                    || $0 == 0x5f
            }
    }

    static func base64URL(_ bytes: [UInt8]) -> String {
        Data(bytes).base64EncodedString()
            .replacingOccurrences(of: "+", with: "-")
            .replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }
}
