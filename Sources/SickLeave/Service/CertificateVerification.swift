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
    let recorder: CheckRecorder
    let keyCities: KeyCities

    public init(database: Database, recorder: CheckRecorder, keyCities: KeyCities) {
        self.database = database
        self.recorder = recorder
        self.keyCities = keyCities
    }

    /// One statement on the database: the key the token names (if trusted) and the standing of
    /// the version it claims; the signature is checked here, with that key.
    /// Who checks: a signed-in account (recorded by name for the patient to see) or nobody.
    public struct Checker: Sendable {
        public var userID: UUID
        public var name: String

        public init(userID: UUID, name: String) {
            self.userID = userID
            self.name = name
        }
    }

    public func verify(_ text: String, tenantID: UUID, checker: Checker? = nil) async throws -> VerificationAnswer {
        let parsed: (message: COSESign1, token: SickLeaveToken)
        do {
            parsed = try SickLeaveToken.parse(CertificateLink.token(in: text))
        } catch {
            return Self.failure("unreadable", error.description)
        }
        return try await verify(parsed, tenantID: tenantID, checker: checker)
    }

    /// Verification without a city: the token names its key, and the key its city (a key id is
    /// public — every trust list shows it). `checker` names who checks, once the city is known.
    public func verifyInAnyCity(
        _ text: String,
        checker: @Sendable (UUID) async throws -> Checker? = { _ in nil }
    ) async throws -> VerificationAnswer {
        let parsed: (message: COSESign1, token: SickLeaveToken)
        do {
            parsed = try SickLeaveToken.parse(CertificateLink.token(in: text))
        } catch {
            return Self.failure("unreadable", error.description)
        }
        guard parsed.message.keyIDIsProtected, let keyID = parsed.message.keyID, keyID.count <= 64 else {
            return Self.unknownKey
        }
        var answer = Self.unknownKey
        // Key ids are 64 random bits; should two cities ever hold the same one, each is asked.
        for tenantID in try await keyCities.cities(of: keyID, database: database) {
            answer = try await verify(parsed, tenantID: tenantID, checker: try await checker(tenantID))
            if answer.genuine { break }
        }
        return answer
    }

    private func verify(
        _ parsed: (message: COSESign1, token: SickLeaveToken),
        tenantID: UUID,
        checker: Checker?
    ) async throws -> VerificationAnswer {
        let (message, token) = parsed
        guard message.keyIDIsProtected, let keyID = message.keyID, keyID.count <= 64 else {
            return Self.unknownKey
        }
        let check = StandingCheck(
            tenantID: tenantID,
            keyID: keyID,
            certificateID: token.certificateID,
            version: token.version,
            statusIndex: token.statusIndex
        )
        let logger = database.logger
        let row = try await database.withConnection { connection in
            var found: StandingCheck.Row?
            for try await row in try await connection.execute(check, logger: logger) { found = row }
            return found
        }
        guard let row, let algorithm = COSEAlgorithm(rawValue: Int64(row.1)) else { return Self.unknownKey }
        let trusted = TrustedKey(
            keyID: keyID,
            publicKey: Array(row.0),
            algorithm: algorithm,
            clinicBIN: row.2,
            validFrom: Int64(row.3.timeIntervalSince1970.rounded(.down)),
            validUntil: Int64(row.4.timeIntervalSince1970.rounded(.up))
        )
        switch TokenVerifier(trusted: [trusted]).judge(message, token) {
        case .unreadable(let error): return Self.failure("unreadable", error.description)
        case .unknownKey: return Self.unknownKey
        case .keyNotValid(let reason): return Self.failure("key_not_valid", reason)
        case .forged: return Self.failure("forged", "the signature does not match the certificate's content")
        case .genuine(let token):
            let answer = Self.standing(of: token, status: row.5, current: row.6, currentEnd: row.7)
            if answer.verdict != "not_issued_here" {
                try await record(answer, token: token, tenantID: tenantID, checker: checker)
            }
            return answer
        }
    }

    private func record(
        _ answer: VerificationAnswer,
        token: SickLeaveToken,
        tenantID: UUID,
        checker: Checker?
    )
        async throws
    {
        try await recorder.record(
            CheckRecorder.Pending(
                tenantID: tenantID,
                certificateID: token.certificateID,
                version: token.version,
                checker: checker,
                verdict: answer.verdict,
                at: Date()
            )
        )
    }

    static let unknownKey = failure("unknown_key", "signed with a key this city does not trust (unknown or removed)")

    static func failure(_ verdict: String, _ reason: String) -> VerificationAnswer {
        VerificationAnswer(verdict: verdict, genuine: false, reason: reason)
    }

    /// A genuine token's answer, from the certificate's status and current version (nil when the
    /// city has no record of this version).
    static func standing(
        of token: SickLeaveToken,
        status: String?,
        current: Int32?,
        currentEnd: String?
    )
        -> VerificationAnswer
    {
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
        guard let status, let current else {
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
            answer.reason = "a newer version (\(current)) exists; the leave now ends on \(currentEnd ?? "?")"
        } else if token.status == .closed {
            answer.verdict = "closed"
            answer.reason = "the leave ended on \(token.periodEnd)"
        }
        return answer
    }
}

/// Which cities trust a key id, remembered: a key belongs to one city for its whole life, so a
/// found answer never goes stale (a removed key is refused by the city's own check). Ids no city
/// holds are not remembered — anyone can make those up — and the memory is bounded.
public final class KeyCities: Sendable {
    static let capacity = 100_000
    private let known = Locked<[[UInt8]: [UUID]]>([:])

    public init() {}

    func cities(of keyID: [UInt8], database: Database) async throws -> [UUID] {
        if let cities = known.withLock({ $0[keyID] }) { return cities }
        let logger = database.logger
        let cities = try await database.withConnection { connection in
            var cities: [UUID] = []
            let rows = try await connection.query(
                "SELECT * FROM adal_sick_leave_key_cities(\(ByteBuffer(bytes: keyID))::bytea)",
                logger: logger
            )
            for try await city in rows.decode(UUID.self) { cities.append(city) }
            return cities
        }
        if !cities.isEmpty {
            known.withLock { known in
                if known.count >= Self.capacity { known.removeAll(keepingCapacity: true) }
                known[keyID] = cities
            }
        }
        return cities
    }
}

/// `adal_sick_leave_check` as a prepared statement.
struct StandingCheck: PreparedSQL {
    typealias Row = (Data, Int16, String, Date, Date, String?, Int32?, String?)
    static let name = "adal_sick_leave_check"
    static let sql = StandingCheck(tenantID: UUID(), keyID: [], certificateID: [], version: 0, statusIndex: 0).query.sql

    let query: PostgresQuery

    init(tenantID: UUID, keyID: [UInt8], certificateID: [UInt8], version: Int, statusIndex: Int) {
        query = """
            SELECT * FROM adal_sick_leave_check(\(tenantID)::uuid, \(ByteBuffer(bytes: keyID))::bytea, \(ByteBuffer(bytes: certificateID))::bytea,
                \(Int32(clamping: version))::int, \(Int32(clamping: statusIndex))::int)
            """
    }

    func decodeRow(_ row: PostgresRow) throws -> Row {
        try row.decode(Row.self)
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
    public var clinicBIN: String
    public var periodStart: String
    public var periodEnd: String
    public var status: String
    public var versions: [Version]
    /// When and by whom the certificate was checked, newest first (at most 100).
    public var checks: [Check] = []

    public struct Check: Sendable, Codable, Equatable {
        public var at: Date
        /// The checker's name, or nil for an anonymous check.
        public var by: String?
        public var version: Int
        public var verdict: String
    }

    /// The certificates of the signed-in user (matched by the IIN on their account), newest
    /// first, at most 20: what a patient sees, with who checked each one.
    public static func ofPatient(userID: UUID, tenantID: UUID, database: Database) async throws -> [CertificateView] {
        let logger = database.logger
        let instances = try await database.withTenant(tenantID) { connection in
            let rows = try await connection.query(
                """
                SELECT c.instance_id FROM users u
                JOIN certificates c ON c.tenant_id = u.tenant_id AND c.patient_iin = u.iin
                WHERE u.tenant_id = \(tenantID) AND u.id = \(userID)
                ORDER BY c.period_start DESC LIMIT 20
                """,
                logger: logger
            )
            var instances: [UUID] = []
            for try await instance in rows.decode(UUID.self) { instances.append(instance) }
            return instances
        }
        var views: [CertificateView] = []
        for instance in instances {
            if let view = try await load(instance: instance, tenantID: tenantID, database: database) {
                views.append(view)
            }
        }
        return views
    }

    public static func load(instance: UUID, tenantID: UUID, database: Database) async throws -> CertificateView? {
        let logger = database.logger
        return try await database.withTenant(tenantID) { connection in
            let rows = try await connection.query(
                """
                SELECT c.id, c.patient_name, c.date_of_birth::text, c.employer_bin, k.name, k.bin,
                    c.period_start::text, c.period_end::text, c.status
                FROM certificates c JOIN clinics k ON k.tenant_id = c.tenant_id AND k.id = c.clinic_id
                WHERE c.tenant_id = \(tenantID) AND c.instance_id = \(instance)
                """,
                logger: logger
            )
            var found: (Data, CertificateView)?
            for try await row in rows.decode(
                (Data, String, String, String, String, String, String, String, String).self
            ) {
                found = (
                    row.0,
                    CertificateView(
                        instance: instance,
                        patientName: row.1,
                        dateOfBirth: row.2,
                        employerBIN: row.3,
                        clinic: row.4,
                        clinicBIN: row.5,
                        periodStart: row.6,
                        periodEnd: row.7,
                        status: row.8,
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
            let checks = try await connection.query(
                """
                SELECT checked_at, checker_name, version, verdict FROM certificate_checks
                WHERE tenant_id = \(tenantID) AND certificate_id = \(id) ORDER BY checked_at DESC LIMIT 100
                """,
                logger: logger
            )
            for try await (at, by, version, verdict) in checks.decode((Date, String?, Int32, String).self) {
                view.checks.append(Check(at: at, by: by, version: Int(version), verdict: verdict))
            }
            return view
        }
    }
}
