import Crypto

/// The two lists a city publishes for offline verifiers, each a COSE_Sign1 message signed with
/// the city's root key (Ed25519), whose public half verifiers keep:
///
/// - the **trust list**: every clinic key the city trusts, with its clinic and validity;
/// - the **status list**: two bits per status-list position — 0 in force (or unused), 1 superseded
///   by a newer version, 2 revoked.
///
/// Both carry the time they were made; a verifier refuses a list older than it accepts.
public enum PublishedList {
    /// Key ids of the root key in the protected header.
    static let trustListKind: [UInt8] = Array("trust".utf8)
    static let statusListKind: [UInt8] = Array("status".utf8)

    /// Signs a payload as one of the lists; the key id names which list it is.
    static func sign(_ payload: CBOR, kind: [UInt8], rootKey: Curve25519.Signing.PrivateKey) throws -> [UInt8] {
        try COSESign1.sign(payload: payload.encoded(), keyID: kind, key: .ed25519(rootKey)).encoded()
    }

    /// The payload of a list of `kind`, if `bytes` are one signed by `rootKey`.
    static func open(_ bytes: [UInt8], kind: [UInt8], rootKey: [UInt8]) throws(ListError) -> CBOR {
        guard bytes.count <= 1 << 20 else { throw .malformed("larger than any list") }
        guard let key = COSEPublicKey(algorithm: .edDSA, raw: rootKey) else { throw .malformed("not a root key") }
        let message: COSESign1
        do {
            message = try COSESign1(decoding: bytes)
        } catch {
            throw .malformed(error.description)
        }
        guard message.keyIDIsProtected, message.keyID == kind else { throw .malformed("not a list of this kind") }
        guard message.isSigned(by: key) else { throw .badSignature }
        do {
            return try CBOR(decoding: message.payload)
        } catch {
            throw .malformed(error.description)
        }
    }
}

public enum ListError: Error, Equatable, CustomStringConvertible {
    case malformed(String)
    case badSignature
    case stale(ageSeconds: Int64)

    public var description: String {
        switch self {
        case .malformed(let reason): "the list is damaged (\(reason))"
        case .badSignature: "the list is not signed by the city's root key"
        case .stale(let age): "the list is \(age) s old, older than this verifier accepts"
        }
    }
}

/// The city's signed list of trusted clinic keys.
public struct TrustList: Sendable, Equatable {
    public var city: String
    /// Seconds since the epoch.
    public var issuedAt: Int64
    public var keys: [TrustedKey]

    public init(city: String, issuedAt: Int64, keys: [TrustedKey]) {
        self.city = city
        self.issuedAt = issuedAt
        self.keys = keys
    }

    public func signed(rootKey: Curve25519.Signing.PrivateKey) throws -> [UInt8] {
        let entries: [CBOR] = keys.map { key in
            .map([
                .init(.unsigned(1), .bytes(key.keyID)), .init(.unsigned(2), .integer(key.algorithm.rawValue)),
                .init(.unsigned(3), .bytes(key.publicKey)), .init(.unsigned(4), .text(key.clinicBIN)),
                .init(.unsigned(5), .integer(key.validFrom)), .init(.unsigned(6), .integer(key.validUntil)),
            ])
        }
        let payload = CBOR.map([
            .init(.unsigned(1), .text(city)), .init(.unsigned(2), .integer(issuedAt)),
            .init(.unsigned(3), .array(entries)),
        ])
        return try PublishedList.sign(payload, kind: PublishedList.trustListKind, rootKey: rootKey)
    }

    /// Reads a trust list signed by `rootKey`, refusing one older than `maximumAge` at `now`.
    public init(verifying bytes: [UInt8], rootKey: [UInt8], now: Int64, maximumAge: Int64) throws(ListError) {
        let payload = try PublishedList.open(bytes, kind: PublishedList.trustListKind, rootKey: rootKey)
        guard case .text(let city)? = payload[.unsigned(1)], let issuedAt = payload[.unsigned(2)]?.integerValue,
            case .array(let entries)? = payload[.unsigned(3)]
        else { throw .malformed("missing city, time or keys") }
        guard now - issuedAt <= maximumAge else { throw .stale(ageSeconds: now - issuedAt) }
        var keys: [TrustedKey] = []
        for entry in entries {
            guard case .bytes(let keyID)? = entry[.unsigned(1)],
                let algorithm = entry[.unsigned(2)]?.integerValue.flatMap(COSEAlgorithm.init(rawValue:)),
                case .bytes(let publicKey)? = entry[.unsigned(3)], case .text(let bin)? = entry[.unsigned(4)],
                let from = entry[.unsigned(5)]?.integerValue, let until = entry[.unsigned(6)]?.integerValue
            else { throw .malformed("a key entry lacks a field") }
            keys.append(
                TrustedKey(
                    keyID: keyID,
                    publicKey: publicKey,
                    algorithm: algorithm,
                    clinicBIN: bin,
                    validFrom: from,
                    validUntil: until
                )
            )
        }
        self.init(city: city, issuedAt: issuedAt, keys: keys)
    }
}

/// The city's signed status list: two bits per position.
public struct StatusList: Sendable, Equatable {
    public enum Standing: UInt8, Sendable {
        case inForce = 0
        case superseded = 1
        case revoked = 2
    }

    public var city: String
    public var issuedAt: Int64
    /// Four positions per byte, the first in the two highest bits.
    public var bits: [UInt8]

    /// An all-in-force list of `size` positions.
    public init(city: String, issuedAt: Int64, size: Int) {
        self.city = city
        self.issuedAt = issuedAt
        bits = [UInt8](repeating: 0, count: (size + 3) / 4)
    }

    public subscript(position: Int) -> Standing {
        get {
            guard position >= 0, position / 4 < bits.count else { return .inForce }
            let shift = UInt8(6 - 2 * (position % 4))
            return Standing(rawValue: bits[position / 4] >> shift & 0b11) ?? .revoked
        }
        set {
            guard position >= 0, position / 4 < bits.count else { return }
            let shift = UInt8(6 - 2 * (position % 4))
            bits[position / 4] = bits[position / 4] & ~(0b11 << shift) | newValue.rawValue << shift
        }
    }

    public func signed(rootKey: Curve25519.Signing.PrivateKey) throws -> [UInt8] {
        let payload = CBOR.map([
            .init(.unsigned(1), .text(city)), .init(.unsigned(2), .integer(issuedAt)),
            .init(.unsigned(3), .bytes(bits)),
        ])
        return try PublishedList.sign(payload, kind: PublishedList.statusListKind, rootKey: rootKey)
    }

    public init(verifying bytes: [UInt8], rootKey: [UInt8], now: Int64, maximumAge: Int64) throws(ListError) {
        let payload = try PublishedList.open(bytes, kind: PublishedList.statusListKind, rootKey: rootKey)
        guard case .text(let city)? = payload[.unsigned(1)], let issuedAt = payload[.unsigned(2)]?.integerValue,
            case .bytes(let bits)? = payload[.unsigned(3)]
        else { throw .malformed("missing city, time or bits") }
        guard now - issuedAt <= maximumAge else { throw .stale(ageSeconds: now - issuedAt) }
        self.city = city
        self.issuedAt = issuedAt
        self.bits = bits
    }
}

/// A verifier with no network: a downloaded trust list and status list, checked against the
/// city's root key.
public struct OfflineVerifier: Sendable {
    let trust: TrustList
    let status: StatusList

    public init(trust: TrustList, status: StatusList) {
        self.trust = trust
        self.status = status
    }

    /// The verdict: the token's own, then its standing in the status list.
    public func verify(_ text: String) -> (verdict: TokenVerifier.Verdict, standing: StatusList.Standing?) {
        let verdict = TokenVerifier(trusted: trust.keys).verify(text)
        guard case .genuine(let token) = verdict else { return (verdict, nil) }
        return (verdict, status[token.statusIndex])
    }
}
