import Core
import Crypto
import Foundation
import Logging
import PostgresNIO
import Storage

/// A city's published lists, made from the database and signed with the city's root key; each
/// is kept for ``refreshInterval`` so a busy verify page does not rebuild it per request.
public actor CityLists {
    /// How long a signed list is served before it is made again: a removed clinic key or a
    /// revocation reaches offline verifiers within this.
    public static let refreshInterval: TimeInterval = 120
    /// Oldest list an offline verifier should accept.
    public static let maximumAge: Int64 = 3_600

    let database: Database
    let sealer: KeySealer
    private var cache: [UUID: (madeAt: Date, trust: [UInt8], status: [UInt8])] = [:]

    public init(database: Database, sealer: KeySealer) {
        self.database = database
        self.sealer = sealer
    }

    /// The signed trust list and status list of the city, at most ``refreshInterval`` old.
    public func lists(
        tenantID: UUID,
        city: String,
        now: Date = Date()
    ) async throws -> (
        trust: [UInt8], status: [UInt8]
    ) {
        if let cached = cache[tenantID], now.timeIntervalSince(cached.madeAt) < Self.refreshInterval {
            return (cached.trust, cached.status)
        }
        let (sealer, logger) = (sealer, database.logger)
        let made = try await database.withTenant(tenantID) { connection in
            let root = try await Self.rootKey(tenantID: tenantID, sealer: sealer, on: connection, logger: logger)
            let issuedAt = Int64(now.timeIntervalSince1970)
            let trust = TrustList(
                city: city,
                issuedAt: issuedAt,
                keys: try await ClinicKeys.trusted(tenantID: tenantID, on: connection, logger: logger)
            )
            var status = StatusList(city: city, issuedAt: issuedAt, size: Int(StatusIndex.listSize))
            let rows = try await connection.query(
                """
                SELECT v.status_index, CASE WHEN c.status = 'revoked' THEN 2 WHEN v.version < c.current_version THEN 1
                    ELSE 0 END::smallint
                FROM certificate_versions v JOIN certificates c ON c.tenant_id = v.tenant_id AND c.id = v.certificate_id
                WHERE v.tenant_id = \(tenantID)
                """,
                logger: logger
            )
            for try await (position, standing) in rows.decode((Int32, Int16).self) {
                status[Int(position)] = StatusList.Standing(rawValue: UInt8(standing)) ?? .revoked
            }
            return (try trust.signed(rootKey: root), try status.signed(rootKey: root))
        }
        cache[tenantID] = (now, made.0, made.1)
        return made
    }

    /// The city's root public key, which verifiers pin.
    public func rootPublicKey(tenantID: UUID) async throws -> [UInt8] {
        let (sealer, logger) = (sealer, database.logger)
        return try await database.withTenant(tenantID) { connection in
            Array(
                try await Self.rootKey(tenantID: tenantID, sealer: sealer, on: connection, logger: logger).publicKey
                    .rawRepresentation
            )
        }
    }

    /// Forgets the cached lists, so the next request makes them anew (after removing a key).
    public func invalidate(tenantID: UUID) {
        cache[tenantID] = nil
    }

    /// The city's root key, made on first use.
    static func rootKey(
        tenantID: UUID,
        sealer: KeySealer,
        on connection: PostgresConnection,
        logger: Logger
    ) async throws -> Curve25519.Signing.PrivateKey {
        let associated = Array(tenantID.uuidString.utf8)
        for _ in 0..<2 {
            let rows = try await connection.query(
                "SELECT sealed_private_key FROM sick_leave_root_keys WHERE tenant_id = \(tenantID)",
                logger: logger
            )
            for try await sealed in rows.decode(Data.self) {
                return try Curve25519.Signing.PrivateKey(
                    rawRepresentation: try sealer.open(Array(sealed), associated: associated)
                )
            }
            let key = Curve25519.Signing.PrivateKey()
            // Two first requests may race: the loser's insert does nothing and it reads the winner's key.
            try await connection.run(
                """
                INSERT INTO sick_leave_root_keys (tenant_id, public_key, sealed_private_key)
                VALUES (\(tenantID), \(Data(key.publicKey.rawRepresentation)),
                    \(Data(try sealer.seal(Array(key.rawRepresentation), associated: associated))))
                ON CONFLICT (tenant_id) DO NOTHING
                """,
                logger: logger
            )
        }
        throw AdalError.unavailable(reason: "the city's root key could not be made")
    }
}

extension ClinicKeys {
    /// Withdraws a clinic key from the trust list; tokens it signed stop verifying at the next
    /// fetch of the list.
    public static func remove(keyID: [UInt8], tenantID: UUID, database: Database) async throws -> Bool {
        let logger = database.logger
        return try await database.withTenant(tenantID) { connection in
            let rows = try await connection.query(
                """
                UPDATE clinic_keys SET removed_at = now()
                WHERE tenant_id = \(tenantID) AND key_id = \(Data(keyID)) AND removed_at IS NULL RETURNING 1
                """,
                logger: logger
            )
            var removed = false
            for try await _ in rows { removed = true }
            return removed
        }
    }
}
