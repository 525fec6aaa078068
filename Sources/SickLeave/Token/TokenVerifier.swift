/// A clinic's signing key as the city's trust list publishes it.
public struct TrustedKey: Sendable, Equatable {
    public var keyID: [UInt8]
    public var publicKey: [UInt8]
    public var algorithm: COSEAlgorithm
    /// The clinic the key signs for.
    public var clinicBIN: String
    /// Seconds since the epoch: tokens issued outside [validFrom, validUntil] are not accepted.
    public var validFrom: Int64
    public var validUntil: Int64

    public init(
        keyID: [UInt8],
        publicKey: [UInt8],
        algorithm: COSEAlgorithm,
        clinicBIN: String,
        validFrom: Int64,
        validUntil: Int64
    ) {
        self.keyID = keyID
        self.publicKey = publicKey
        self.algorithm = algorithm
        self.clinicBIN = clinicBIN
        self.validFrom = validFrom
        self.validUntil = validUntil
    }
}

/// Whether a token's signature is genuine, judged against the keys a city trusts. Each way a
/// token can fail has its own verdict; none of them crashes or throws.
public struct TokenVerifier: Sendable {
    public enum Verdict: Sendable, Equatable {
        /// Signed by a trusted key of the token's clinic, within the key's validity.
        case genuine(SickLeaveToken)
        /// Not a readable token (prefix, characters, envelope or content); the reason says which.
        case unreadable(TokenError)
        /// Signed with a key the trust list does not hold (unknown, or removed).
        case unknownKey
        /// The key is trusted but not for this token: another clinic's, or outside its dates.
        case keyNotValid(String)
        /// The signature does not match the content: altered, or signed by another key.
        case forged
    }

    private let keys: [[UInt8]: TrustedKey]

    public init(trusted: [TrustedKey]) {
        keys = Dictionary(trusted.map { ($0.keyID, $0) }, uniquingKeysWith: { first, _ in first })
    }

    public func verify(_ text: String) -> Verdict {
        let parsed: (message: COSESign1, token: SickLeaveToken)
        do {
            parsed = try SickLeaveToken.parse(CertificateLink.token(in: text))
        } catch {
            return .unreadable(error)
        }
        return judge(parsed.message, parsed.token)
    }

    /// The verdict on a parsed token.
    func judge(_ message: COSESign1, _ token: SickLeaveToken) -> Verdict {
        // The key id must be covered by the signature, or it could be swapped freely.
        guard message.keyIDIsProtected, let keyID = message.keyID, let trusted = keys[keyID] else {
            return .unknownKey
        }
        guard let key = COSEPublicKey(algorithm: trusted.algorithm, raw: trusted.publicKey) else { return .unknownKey }
        guard message.isSigned(by: key) else { return .forged }
        guard trusted.clinicBIN == token.clinicBIN else {
            return .keyNotValid("the key belongs to another clinic")
        }
        guard (trusted.validFrom...trusted.validUntil).contains(token.issuedAt) else {
            return .keyNotValid("the token was signed outside the key's validity")
        }
        return .genuine(token)
    }
}
