import Crypto

/// The signature algorithms a token may use (COSE algorithm identifiers, RFC 9053).
public enum COSEAlgorithm: Int64, Sendable, CaseIterable {
    /// ECDSA on P-256 with SHA-256; the signature is r ‖ s, 64 bytes.
    case es256 = -7
    /// Ed25519.
    case edDSA = -8
}

/// A key that verifies COSE signatures.
public enum COSEPublicKey: Sendable {
    case p256(P256.Signing.PublicKey)
    case ed25519(Curve25519.Signing.PublicKey)

    public var algorithm: COSEAlgorithm {
        switch self {
        case .p256: .es256
        case .ed25519: .edDSA
        }
    }

    /// The raw public key: x ‖ y for P-256, the 32 bytes for Ed25519.
    public var rawRepresentation: [UInt8] {
        switch self {
        case .p256(let key): Array(key.rawRepresentation)
        case .ed25519(let key): Array(key.rawRepresentation)
        }
    }

    /// Reads a raw public key of `algorithm`; nil when the bytes are not one.
    public init?(algorithm: COSEAlgorithm, raw: [UInt8]) {
        switch algorithm {
        case .es256:
            guard let key = try? P256.Signing.PublicKey(rawRepresentation: raw) else { return nil }
            self = .p256(key)
        case .edDSA:
            guard let key = try? Curve25519.Signing.PublicKey(rawRepresentation: raw) else { return nil }
            self = .ed25519(key)
        }
    }

    func isValid(signature: [UInt8], for data: [UInt8]) -> Bool {
        switch self {
        case .p256(let key):
            guard let signature = try? P256.Signing.ECDSASignature(rawRepresentation: signature) else { return false }
            return key.isValidSignature(signature, for: data)
        case .ed25519(let key):
            return key.isValidSignature(signature, for: data)
        }
    }
}

/// A key that makes COSE signatures.
public enum COSEPrivateKey: Sendable {
    case p256(P256.Signing.PrivateKey)
    case ed25519(Curve25519.Signing.PrivateKey)

    public var publicKey: COSEPublicKey {
        switch self {
        case .p256(let key): .p256(key.publicKey)
        case .ed25519(let key): .ed25519(key.publicKey)
        }
    }

    func signature(for data: [UInt8]) throws -> [UInt8] {
        switch self {
        case .p256(let key): Array(try key.signature(for: data).rawRepresentation)
        case .ed25519(let key): Array(try key.signature(for: data))
        }
    }
}

/// A COSE_Sign1 message (RFC 9052 §4.2): protected header bytes, unprotected header, payload and
/// one signature over the `Signature1` structure, tagged 18.
public struct COSESign1: Sendable, Equatable {
    public static let tag: UInt64 = 18
    static let algorithmLabel = CBOR.unsigned(1)
    static let keyIDLabel = CBOR.unsigned(4)

    /// The protected header exactly as serialised: the signature covers these bytes.
    public var protectedHeader: [UInt8]
    public var unprotectedHeader: CBOR
    public var payload: [UInt8]
    public var signature: [UInt8]

    /// Signs `payload` with the algorithm and key id in the protected header.
    public static func sign(
        payload: [UInt8],
        keyID: [UInt8],
        key: COSEPrivateKey,
        externalAAD: [UInt8] = []
    ) throws -> COSESign1 {
        let protected = CBOR.map([
            .init(algorithmLabel, .integer(key.publicKey.algorithm.rawValue)), .init(keyIDLabel, .bytes(keyID)),
        ])
        var message = COSESign1(
            protectedHeader: protected.encoded(),
            unprotectedHeader: .map([]),
            payload: payload,
            signature: []
        )
        message.signature = try key.signature(for: message.toBeSigned(externalAAD: externalAAD))
        return message
    }

    public init(protectedHeader: [UInt8], unprotectedHeader: CBOR, payload: [UInt8], signature: [UInt8]) {
        self.protectedHeader = protectedHeader
        self.unprotectedHeader = unprotectedHeader
        self.payload = payload
        self.signature = signature
    }

    /// Reads a tagged (or untagged) COSE_Sign1 message with an attached payload.
    public init(decoding bytes: [UInt8]) throws(COSEError) {
        let item: CBOR
        do {
            item = try CBOR(decoding: bytes)
        } catch {
            throw .malformed(error.description)
        }
        var body = item
        if case .tagged(let tag, let inner) = item {
            guard tag == Self.tag else { throw .malformed("tag \(tag) is not COSE_Sign1 (18)") }
            body = inner
        }
        guard case .array(let parts) = body, parts.count == 4 else {
            throw .malformed("COSE_Sign1 is an array of four items")
        }
        guard case .bytes(let protected) = parts[0] else {
            throw .malformed("the protected header is not a byte string")
        }
        guard case .map = parts[1] else { throw .malformed("the unprotected header is not a map") }
        guard case .bytes(let payload) = parts[2] else { throw .malformed("the payload is missing or detached") }
        guard case .bytes(let signature) = parts[3] else { throw .malformed("the signature is not a byte string") }
        if !protected.isEmpty {
            guard case .map = try? CBOR(decoding: protected) else {
                throw .malformed("the protected header is not a CBOR map")
            }
        }
        self.init(protectedHeader: protected, unprotectedHeader: parts[1], payload: payload, signature: signature)
    }

    /// The tagged message.
    public func encoded() -> [UInt8] {
        CBOR.tagged(
            Self.tag,
            .array([.bytes(protectedHeader), unprotectedHeader, .bytes(payload), .bytes(signature)])
        ).encoded()
    }

    private var protectedMap: CBOR? {
        protectedHeader.isEmpty ? .map([]) : try? CBOR(decoding: protectedHeader)
    }

    /// The algorithm named in the protected header.
    public var algorithm: COSEAlgorithm? {
        protectedMap?[Self.algorithmLabel]?.integerValue.flatMap(COSEAlgorithm.init(rawValue:))
    }

    /// The key id: from the protected header, else the unprotected one.
    public var keyID: [UInt8]? {
        if case .bytes(let id)? = protectedMap?[Self.keyIDLabel] { return id }
        if case .bytes(let id)? = unprotectedHeader[Self.keyIDLabel] { return id }
        return nil
    }

    /// Whether the key id is in the protected header (covered by the signature).
    public var keyIDIsProtected: Bool {
        if case .bytes? = protectedMap?[Self.keyIDLabel] { return true }
        return false
    }

    /// The `Signature1` structure the signature is made over.
    public func toBeSigned(externalAAD: [UInt8] = []) -> [UInt8] {
        CBOR.array([.text("Signature1"), .bytes(protectedHeader), .bytes(externalAAD), .bytes(payload)]).encoded()
    }

    /// Whether `key` made the signature, with the algorithm the protected header names.
    public func isSigned(by key: COSEPublicKey, externalAAD: [UInt8] = []) -> Bool {
        guard algorithm == key.algorithm else { return false }
        return key.isValid(signature: signature, for: toBeSigned(externalAAD: externalAAD))
    }
}

public enum COSEError: Error, Equatable, CustomStringConvertible {
    case malformed(String)

    public var description: String {
        switch self {
        case .malformed(let reason): "COSE: \(reason)"
        }
    }
}
