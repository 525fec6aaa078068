import Core
import Crypto
import Foundation
import Logging
import PostgresNIO
import Storage

/// A clinic's signing keys, rotated on a schedule: ``rotate(tenantID:at:sealer:database:)`` makes
/// the next key ``rotationLead`` before the newest one expires, and a key signs only once it has
/// been in the published trust list for ``publicationLead`` — so offline verifiers holding a
/// recent list already know it when the first certificate signed with it reaches them. A clinic
/// whose keys were all removed (a leak) gets a new key at its next certificate at once.
public enum ClinicKeys {
    /// How long before the newest key expires the next one is made.
    public static let rotationLead: TimeInterval = 14 * 24 * 3600
    /// How long a new key waits in the trust list before it signs.
    public static let publicationLead: TimeInterval = 24 * 3600

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
        try await lock(clinic, tenantID: tenantID, on: connection, logger: logger)
        // The newest key published long enough ago; failing that, any key valid now.
        let rows = try await connection.query(
            """
            SELECT key_id, sealed_private_key FROM clinic_keys
            WHERE tenant_id = \(tenantID) AND clinic_id = \(clinic.id) AND removed_at IS NULL
              AND valid_from <= \(now) AND valid_until > \(now)
            ORDER BY valid_from <= \(now.addingTimeInterval(-publicationLead)) DESC, valid_from DESC LIMIT 1
            """,
            logger: logger
        )
        var found: (Data, Data)?
        for try await row in rows.decode((Data, Data).self) { found = row }
        if let (keyID, sealed) = found {
            let raw = try sealer.open(Array(sealed), associated: Array(keyID))
            return Signing(keyID: Array(keyID), privateKey: .p256(try P256.Signing.PrivateKey(rawRepresentation: raw)))
        }
        return try await make(
            for: clinic,
            tenantID: tenantID,
            from: now,
            sealer: sealer,
            on: connection,
            logger: logger
        )
    }

    /// Makes each clinic's next key when its newest one (not removed) expires within
    /// ``rotationLead``, or when it has none; returns how many keys were made. Safe to run from
    /// several servers at once: each clinic is decided under its own lock.
    @discardableResult
    public static func rotate(tenantID: UUID, at now: Date, sealer: KeySealer, database: Database) async throws -> Int {
        let logger = database.logger
        return try await database.withTenant(tenantID) { connection in
            let rows = try await connection.query(
                "SELECT id, bin, name FROM clinics WHERE tenant_id = \(tenantID) ORDER BY id",
                logger: logger
            )
            var clinics: [Clinic] = []
            for try await (id, bin, name) in rows.decode((UUID, String, String).self) {
                clinics.append(Clinic(id: id, bin: bin, name: name))
            }
            var made = 0
            for clinic in clinics {
                try await lock(clinic, tenantID: tenantID, on: connection, logger: logger)
                let newest = try await connection.query(
                    """
                    SELECT max(valid_until) FROM clinic_keys
                    WHERE tenant_id = \(tenantID) AND clinic_id = \(clinic.id) AND removed_at IS NULL
                    """,
                    logger: logger
                )
                var until: Date?
                for try await value in newest.decode(Date?.self) { until = value }
                if let until, until > now.addingTimeInterval(rotationLead) { continue }
                _ = try await make(
                    for: clinic,
                    tenantID: tenantID,
                    from: now,
                    sealer: sealer,
                    on: connection,
                    logger: logger
                )
                made += 1
            }
            return made
        }
    }

    /// One signer or rotator at a time per clinic, so two of them never both make a key.
    private static func lock(
        _ clinic: Clinic,
        tenantID: UUID,
        on connection: PostgresConnection,
        logger: Logger
    ) async throws {
        try await connection.run(
            "SELECT pg_advisory_xact_lock(hashtext(\(tenantID.uuidString + clinic.id.uuidString)))",
            logger: logger
        )
    }

    private static func make(
        for clinic: Clinic,
        tenantID: UUID,
        from start: Date,
        sealer: KeySealer,
        on connection: PostgresConnection,
        logger: Logger
    ) async throws -> Signing {
        let key = P256.Signing.PrivateKey()
        let keyID = (0..<8).map { _ in UInt8.random(in: 0...255) }
        try await connection.run(
            """
            INSERT INTO clinic_keys (tenant_id, key_id, clinic_id, algorithm, public_key, sealed_private_key,
                valid_from, valid_until)
            VALUES (\(tenantID), \(Data(keyID)), \(clinic.id), \(Int16(COSEAlgorithm.es256.rawValue)),
                \(Data(key.publicKey.rawRepresentation)),
                \(Data(try sealer.seal(Array(key.rawRepresentation), associated: keyID))),
                \(start), \(start.addingTimeInterval(SickLeaveService.keyLifetime)))
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
