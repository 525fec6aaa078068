import Crypto
import Foundation
import Logging
import PostgresNIO
import Synchronization

/// Each tenant's key for the keyed hashes that stand for people and organisations in audit
/// leaves: created on first use, read once per process, never logged.
final class SubjectKeys: Sendable {
    private let cache = Mutex<[UUID: SymmetricKey]>([:])

    func key(for tenantID: UUID, on connection: PostgresConnection, logger: Logger) async throws -> SymmetricKey {
        if let key = cache.withLock({ $0[tenantID] }) { return key }
        let fresh = SymmetricKey(size: .bits256).withUnsafeBytes { Data($0) }
        try await connection.query(
            """
            INSERT INTO audit_subject_keys (tenant_id, key) VALUES (\(tenantID), \(fresh))
            ON CONFLICT (tenant_id) DO NOTHING
            """,
            logger: logger
        )
        // A new statement sees the row whether this transaction or a concurrent one wrote it.
        let rows = try await connection.query(
            "SELECT key FROM audit_subject_keys WHERE tenant_id = \(tenantID)",
            logger: logger
        )
        for try await stored in rows.decode(Data.self) {
            let key = SymmetricKey(data: stored)
            cache.withLock { $0[tenantID] = key }
            return key
        }
        throw SubjectKeyMissing()
    }
}

/// The key row could be neither created nor read: only possible if the table's policy hides it.
struct SubjectKeyMissing: Error {}
