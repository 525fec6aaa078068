import Core
import Foundation
import Logging
import PostgresNIO
import Storage

/// What an employer learns from a token: genuine or not, the certificate's current standing, and
/// the person, period and clinic — nothing else.
public struct VerificationAnswer: Sendable, Equatable, Codable {
    /// `in_force`, `closed`, `superseded`, `revoked`, `forged`, `unknown_key`, `key_not_valid`,
    /// `unreadable`, `not_issued_here`.
    public var verdict: String
    /// True when the clinic's signature is genuine (whatever the certificate's standing).
    public var genuine: Bool
    public var reason: String?
    public var name: String?
    public var dateOfBirth: String?
    public var periodStart: String?
    public var periodEnd: String?
    public var clinic: String?
    public var version: Int?
    public var currentVersion: Int?
}

/// Verifies tokens against a city's trust list and its certificates' current standing.
public struct CertificateVerifier: Sendable {
    let database: Database

    public init(database: Database) {
        self.database = database
    }

    public func verify(_ text: String, tenantID: UUID) async throws -> VerificationAnswer {
        let logger = database.logger
        // Refused before anything is parsed or read.
        guard text.utf8.count <= SickLeaveToken.maximumLength else {
            return Self.failure("unreadable", TokenError.tooLong.description)
        }
        return try await database.withTenant(tenantID) { connection in
            let trusted = try await ClinicKeys.trusted(tenantID: tenantID, on: connection, logger: logger)
            switch TokenVerifier(trusted: trusted).verify(text) {
            case .unreadable(let error): return Self.failure("unreadable", error.description)
            case .unknownKey:
                return Self.failure("unknown_key", "signed with a key this city does not trust (unknown or removed)")
            case .keyNotValid(let reason): return Self.failure("key_not_valid", reason)
            case .forged: return Self.failure("forged", "the signature does not match the certificate's content")
            case .genuine(let token):
                return try await Self.standing(of: token, tenantID: tenantID, on: connection, logger: logger)
            }
        }
    }

    static func failure(_ verdict: String, _ reason: String) -> VerificationAnswer {
        VerificationAnswer(verdict: verdict, genuine: false, reason: reason)
    }

    static func standing(
        of token: SickLeaveToken,
        tenantID: UUID,
        on connection: PostgresConnection,
        logger: Logger
    ) async throws -> VerificationAnswer {
        var answer = VerificationAnswer(
            verdict: "in_force",
            genuine: true,
            name: token.patientName,
            dateOfBirth: token.dateOfBirth.description,
            periodStart: token.periodStart.description,
            periodEnd: token.periodEnd.description,
            clinic: token.clinicName,
            version: token.version
        )
        let rows = try await connection.query(
            """
            SELECT c.status, c.current_version, c.period_end::text FROM certificates c
            JOIN certificate_versions v ON v.tenant_id = c.tenant_id AND v.certificate_id = c.id
            WHERE c.tenant_id = \(tenantID) AND c.id = \(Data(token.certificateID))
              AND v.version = \(Int32(token.version)) AND v.status_index = \(Int32(token.statusIndex))
            """,
            logger: logger
        )
        var found: (String, Int32, String)?
        for try await row in rows.decode((String, Int32, String).self) { found = row }
        guard let (status, current, currentEnd) = found else {
            // Genuinely signed, but this city has no record of it: never trust it as in force.
            answer.verdict = "not_issued_here"
            answer.reason = "this city has no record of this certificate version"
            return answer
        }
        answer.currentVersion = Int(current)
        if status == "revoked" {
            answer.verdict = "revoked"
            answer.reason = "the clinic revoked this certificate"
        } else if token.version < Int(current) {
            answer.verdict = "superseded"
            answer.reason = "a newer version (\(current)) exists; the leave now ends on \(currentEnd)"
        } else if token.status == .closed {
            answer.verdict = "closed"
            answer.reason = "the leave ended on \(token.periodEnd)"
        }
        return answer
    }
}

/// A certificate as its clinic sees it: the patient, the period, and every signed version.
public struct CertificateView: Sendable, Codable, Equatable {
    public struct Version: Sendable, Codable, Equatable {
        public var version: Int
        public var status: String
        public var periodEnd: String
        public var issuedAt: Date
        /// The QR code's text.
        public var token: String
    }

    public var instance: UUID
    public var patientName: String
    public var dateOfBirth: String
    public var employerBIN: String
    public var clinic: String
    public var periodStart: String
    public var periodEnd: String
    public var status: String
    public var versions: [Version]

    public static func load(instance: UUID, tenantID: UUID, database: Database) async throws -> CertificateView? {
        let logger = database.logger
        return try await database.withTenant(tenantID) { connection in
            let rows = try await connection.query(
                """
                SELECT c.id, c.patient_name, c.date_of_birth::text, c.employer_bin, k.name, c.period_start::text,
                    c.period_end::text, c.status
                FROM certificates c JOIN clinics k ON k.tenant_id = c.tenant_id AND k.id = c.clinic_id
                WHERE c.tenant_id = \(tenantID) AND c.instance_id = \(instance)
                """,
                logger: logger
            )
            var found: (Data, CertificateView)?
            for try await row in rows.decode((Data, String, String, String, String, String, String, String).self) {
                found = (
                    row.0,
                    CertificateView(
                        instance: instance,
                        patientName: row.1,
                        dateOfBirth: row.2,
                        employerBIN: row.3,
                        clinic: row.4,
                        periodStart: row.5,
                        periodEnd: row.6,
                        status: row.7,
                        versions: []
                    )
                )
            }
            guard let found else { return nil }
            let id = found.0
            var view = found.1
            let versions = try await connection.query(
                """
                SELECT version, status, period_end::text, issued_at, token FROM certificate_versions
                WHERE tenant_id = \(tenantID) AND certificate_id = \(id) ORDER BY version
                """,
                logger: logger
            )
            for try await (version, status, end, issuedAt, token) in versions.decode(
                (Int32, String, String, Date, String).self
            ) {
                view.versions.append(
                    Version(version: Int(version), status: status, periodEnd: end, issuedAt: issuedAt, token: token)
                )
            }
            return view
        }
    }
}
