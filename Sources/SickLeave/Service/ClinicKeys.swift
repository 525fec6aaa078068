import Core
import Crypto
import Foundation
import Logging
import PostgresNIO
import Storage

/// Seals clinic private keys for storage (AES-256-GCM under a key from the server's
/// configuration), so the database alone never holds a key that can sign a certificate.
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

    /// `associated` binds the sealed bytes to their row (the key id), so one row's sealed key
    /// cannot be copied into another's.
    func seal(_ plain: [UInt8], associated: [UInt8]) throws -> [UInt8] {
        guard let combined = try AES.GCM.seal(plain, using: key, authenticating: associated).combined else {
            throw AdalError.unavailable(reason: "sealing failed")
        }
        return Array(combined)
    }

    func open(_ sealed: [UInt8], associated: [UInt8]) throws -> [UInt8] {
        Array(try AES.GCM.open(try AES.GCM.SealedBox(combined: sealed), using: key, authenticating: associated))
    }
}

/// A clinic's signing keys: the current one is used; when none is valid a new one is made, so
/// keys rotate every ``SickLeaveService/keyLifetime``.
public enum ClinicKeys {
    struct Signing {
        let keyID: [UInt8]
        let privateKey: COSEPrivateKey
    }

    static func current(
        for clinic: Clinic,
        tenantID: UUID,
        at now: Date,
        sealer: KeySealer,
        on connection: PostgresConnection,
        logger: Logger
    ) async throws -> Signing {
        // One signer at a time per clinic, so two first steps do not both make a key.
        try await connection.run(
            "SELECT pg_advisory_xact_lock(hashtext(\(tenantID.uuidString + clinic.id.uuidString)))",
            logger: logger
        )
        let rows = try await connection.query(
            """
            SELECT key_id, sealed_private_key FROM clinic_keys
            WHERE tenant_id = \(tenantID) AND clinic_id = \(clinic.id) AND removed_at IS NULL
              AND valid_from <= \(now) AND valid_until > \(now)
            ORDER BY valid_until DESC LIMIT 1
            """,
            logger: logger
        )
        var found: (Data, Data)?
        for try await row in rows.decode((Data, Data).self) { found = row }
        if let (keyID, sealed) = found {
            let raw = try sealer.open(Array(sealed), associated: Array(keyID))
            return Signing(keyID: Array(keyID), privateKey: .p256(try P256.Signing.PrivateKey(rawRepresentation: raw)))
        }
        let key = P256.Signing.PrivateKey()
        let keyID = (0..<8).map { _ in UInt8.random(in: 0...255) }
        try await connection.run(
            """
            INSERT INTO clinic_keys (tenant_id, key_id, clinic_id, algorithm, public_key, sealed_private_key,
                valid_from, valid_until)
            VALUES (\(tenantID), \(Data(keyID)), \(clinic.id), \(Int16(COSEAlgorithm.es256.rawValue)),
                \(Data(key.publicKey.rawRepresentation)),
                \(Data(try sealer.seal(Array(key.rawRepresentation), associated: keyID))),
                \(now), \(now.addingTimeInterval(SickLeaveService.keyLifetime)))
            """,
            logger: logger
        )
        logger.info("new clinic signing key", metadata: ["clinic": "\(clinic.bin)", "key": "\(keyID.hexString)"])
        return Signing(keyID: keyID, privateKey: .p256(key))
    }

    /// The city's trust list: every key not removed, with its clinic and validity.
    static func trusted(
        tenantID: UUID,
        on connection: PostgresConnection,
        logger: Logger
    ) async throws
        -> [TrustedKey]
    {
        let rows = try await connection.query(
            """
            SELECT k.key_id, k.public_key, k.algorithm, c.bin, k.valid_from, k.valid_until
            FROM clinic_keys k JOIN clinics c ON c.tenant_id = k.tenant_id AND c.id = k.clinic_id
            WHERE k.tenant_id = \(tenantID) AND k.removed_at IS NULL
            """,
            logger: logger
        )
        var keys: [TrustedKey] = []
        for try await (keyID, publicKey, algorithm, bin, from, until) in rows.decode(
            (Data, Data, Int16, String, Date, Date).self
        ) {
            guard let algorithm = COSEAlgorithm(rawValue: Int64(algorithm)) else { continue }
            keys.append(
                TrustedKey(
                    keyID: Array(keyID),
                    publicKey: Array(publicKey),
                    algorithm: algorithm,
                    clinicBIN: bin,
                    validFrom: Int64(from.timeIntervalSince1970.rounded(.down)),
                    validUntil: Int64(until.timeIntervalSince1970.rounded(.up))
                )
            )
        }
        return keys
    }
}
