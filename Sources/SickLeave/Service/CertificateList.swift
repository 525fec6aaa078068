import Core
import Foundation
import Logging
import PostgresNIO
import Storage

/// One line of a clinic's list of certificates.
public struct CertificateSummary: Sendable, Codable, Equatable {
    public var instance: UUID
    public var patientName: String
    public var clinic: String
    public var periodStart: String
    public var periodEnd: String
    public var status: String
    public var version: Int
}

extension CertificateSummary {
    /// The newest certificates (by first day, then issue) of `clinics`, or of the whole city when
    /// nil; at most `limit`.
    public static func list(
        clinics: [UUID]?,
        tenantID: UUID,
        limit: Int = 100,
        database: Database
    ) async throws -> [CertificateSummary] {
        let logger = database.logger
        let limit = Int32(clamping: max(1, min(limit, 500)))
        return try await database.withTenant(tenantID) { connection in
            let rows = try await connection.query(
                """
                SELECT c.instance_id, c.patient_name, k.name, c.period_start::text, c.period_end::text, c.status,
                    c.current_version
                FROM certificates c JOIN clinics k ON k.tenant_id = c.tenant_id AND k.id = c.clinic_id
                WHERE c.tenant_id = \(tenantID) AND (\(clinics == nil) OR c.clinic_id = ANY(\(clinics ?? [])))
                ORDER BY c.period_start DESC, c.instance_id LIMIT \(limit)
                """,
                logger: logger
            )
            var found: [CertificateSummary] = []
            for try await row in rows.decode((UUID, String, String, String, String, String, Int32).self) {
                found.append(
                    CertificateSummary(
                        instance: row.0,
                        patientName: row.1,
                        clinic: row.2,
                        periodStart: row.3,
                        periodEnd: row.4,
                        status: row.5,
                        version: Int(row.6)
                    )
                )
            }
            return found
        }
    }
}

extension Clinic {
    /// The clinics whose certificates an account may see and sign: the ones listing it as staff.
    public static func ofStaff(userID: UUID, tenantID: UUID, database: Database) async throws -> [Clinic] {
        let logger = database.logger
        return try await database.withTenant(tenantID) { connection in
            try await ofStaff(userID: userID, tenantID: tenantID, on: connection, logger: logger)
        }
    }
}
