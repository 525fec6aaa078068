import Crypto

/// Seals secrets for storage (AES-256-GCM under a key from the server's configuration): clinic
/// signing keys, so the database alone never holds a key that can sign a certificate, and
/// sealed bids, so nobody reads a price before the bids are opened.
public struct KeySealer: Sendable {
    let key: SymmetricKey

    /// `secret` must be 32 bytes.
    public init(secret: [UInt8]) throws(AdalError) {
        guard secret.count == 32 else {
            throw AdalError.invalidField(field: "ADAL_KEY_SEALING_SECRET", reason: "must be 32 bytes (base64)")
        }
        key = SymmetricKey(data: secret)
    }

    /// A sealer with a random secret that is never kept: for checking definitions, where no key
    /// is sealed.
    public static func ephemeral() -> KeySealer {
        KeySealer(key: SymmetricKey(size: .bits256))
    }

    private init(key: SymmetricKey) {
        self.key = key
    }

    /// `associated` binds the sealed bytes to their row (a key id, a bid), so one row's sealed key
    /// cannot be copied into another's.
    public func seal(_ plain: [UInt8], associated: [UInt8]) throws -> [UInt8] {
        guard let combined = try AES.GCM.seal(plain, using: key, authenticating: associated).combined else {
            throw AdalError.unavailable(reason: "sealing failed")
        }
        return Array(combined)
    }

    /// A keyed hash (HMAC-SHA256 under a key derived from the sealing secret for this use
    /// alone): values outsiders cannot compute but the server can compute again.
    public func keyedHash(_ data: [UInt8]) -> [UInt8] {
        let derived = HKDF<SHA256>.deriveKey(
            inputKeyMaterial: key,
            info: Array("adal keyed hash".utf8),
            outputByteCount: 32
        )
        return Array(HMAC<SHA256>.authenticationCode(for: data, using: derived))
    }

    public func open(_ sealed: [UInt8], associated: [UInt8]) throws -> [UInt8] {
        Array(try AES.GCM.open(try AES.GCM.SealedBox(combined: sealed), using: key, authenticating: associated))
    }
}
