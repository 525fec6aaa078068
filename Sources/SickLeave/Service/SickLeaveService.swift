import Core
import Crypto
import Foundation
import Logging
import PostgresNIO
import Storage
import Workflow

/// The Swift half of `workflows/sick-leave.yaml`: every step that opens, extends or closes a
/// certificate signs a new version of it with the clinic's current key, in the step's own
/// transaction; revoking marks the certificate so that no version of it verifies as in force.
public struct SickLeaveService: Sendable {
    public static let key = "sick-leave"
    /// How long a new clinic key signs before the next one is made.
    public static let keyLifetime: TimeInterval = 90 * 24 * 3600

    let sealer: KeySealer

    public init(sealer: KeySealer) {
        self.sealer = sealer
    }

    public var implementation: ServiceImplementation {
        let sealer = sealer
        return ServiceImplementation(
            key: Self.key,
            guards: ["period_is_valid": { context in try await Self.checkPeriod(context) }],
            actions: [
                "sign_version": { context in try await Self.signVersion(context, sealer: sealer) },
                "revoke_certificate": { context in try await Self.revoke(context) },
            ]
        )
    }

    // MARK: - Guards

    /// The period must start no later than it ends, and an extension or closure must not end
    /// before the leave began.
    static func checkPeriod(_ context: StepContext) async throws -> GuardVerdict {
        let input = context.input
        switch context.event.name {
        case "extend", "close":
            let end = input.string(context.event.name == "extend" ? "new_end" : "actual_end") ?? ""
            guard let certificate = try await CertificateRecord.load(instance: context.instanceID, on: context) else {
                return .refuse("this instance has no certificate")
            }
            guard end >= certificate.periodStart else { return .refuse("the leave cannot end before it began") }
            if context.event.name == "extend" && end <= certificate.periodEnd {
                return .refuse("an extension must end after \(certificate.periodEnd)")
            }
            return .pass
        default:
            let start = input.string("start_date") ?? ""
            let end = input.string("expected_end") ?? ""
            guard start <= end else { return .refuse("the leave cannot end before it begins") }
            guard (input.string("date_of_birth") ?? "") < start else {
                return .refuse("the date of birth must be before the leave")
            }
            return .pass
        }
    }

    // MARK: - Actions

    static func signVersion(_ context: StepContext, sealer: KeySealer) async throws -> StepEffects {
        let input = context.input
        let connection = context.connection
        let logger = context.logger
        var record: CertificateRecord
        let status: SickLeaveToken.Status
        switch context.event.name {
        case "extend", "close":
            guard let existing = try await CertificateRecord.load(instance: context.instanceID, on: context) else {
                throw AdalError.conflict(reason: "this instance has no certificate")
            }
            record = existing
            try await record.clinic.requireStaff(context)
            record.version += 1
            status = context.event.name == "extend" ? .extended : .closed
            record.periodEnd = input.string(context.event.name == "extend" ? "new_end" : "actual_end") ?? ""
        default:
            let clinicBIN = input.string("clinic_bin") ?? ""
            guard let clinic = try await Clinic.find(bin: clinicBIN, tenantID: context.tenantID, on: connection, logger)
            else {
                throw WorkflowError.refused(reason: "clinic \(clinicBIN) is not registered in this city")
            }
            try await clinic.requireStaff(context)
            record = CertificateRecord(
                id: (0..<12).map { _ in UInt8.random(in: 0...255) },
                instanceID: context.instanceID,
                clinic: clinic,
                patientIIN: input.string("patient_iin") ?? "",
                patientName: input.string("patient_name") ?? "",
                dateOfBirth: input.string("date_of_birth") ?? "",
                employerBIN: input.string("employer_bin") ?? "",
                periodStart: input.string("start_date") ?? "",
                periodEnd: input.string("expected_end") ?? "",
                version: 1
            )
            status = .open
        }
        let key = try await ClinicKeys.current(
            for: record.clinic,
            tenantID: context.tenantID,
            at: context.now,
            sealer: sealer,
            on: connection,
            logger: logger
        )
        let statusIndex = try await StatusIndex.allocate(tenantID: context.tenantID, on: connection, logger: logger)
        guard let dateOfBirth = CalendarDate(record.dateOfBirth), let start = CalendarDate(record.periodStart),
            let end = CalendarDate(record.periodEnd)
        else { throw WorkflowError.refused(reason: "dates must be YYYY-MM-DD") }
        let token = SickLeaveToken(
            certificateID: record.id,
            version: record.version,
            patientName: record.patientName,
            dateOfBirth: dateOfBirth,
            periodStart: start,
            periodEnd: end,
            status: status,
            clinicName: record.clinic.name,
            clinicBIN: record.clinic.bin,
            statusIndex: statusIndex,
            issuedAt: Int64(context.now.timeIntervalSince1970)
        )
        let text = try token.signed(keyID: key.keyID, key: key.privateKey)
        try await record.save(status: status, tenantID: context.tenantID, on: connection, logger: logger)
        try await connection.run(
            """
            INSERT INTO certificate_versions (tenant_id, certificate_id, version, status, period_end, status_index,
                key_id, token, issued_at)
            VALUES (\(context.tenantID), \(Data(record.id)), \(Int32(record.version)), \(status.rawValue),
                \(record.periodEnd)::date, \(Int32(statusIndex)), \(Data(key.keyID)), \(text), \(context.now))
            """,
            logger: logger
        )
        return StepEffects(
            identifiers: [record.patientIIN, record.employerBIN, record.clinic.bin],
            subject: "\(record.patientName), \(record.periodStart) – \(record.periodEnd)"
        )
    }

    static func revoke(_ context: StepContext) async throws -> StepEffects {
        guard let certificate = try await CertificateRecord.load(instance: context.instanceID, on: context) else {
            throw AdalError.conflict(reason: "this instance has no certificate")
        }
        try await certificate.clinic.requireStaff(context)
        try await context.connection.run(
            """
            UPDATE certificates SET status = 'revoked'
            WHERE tenant_id = \(context.tenantID) AND instance_id = \(context.instanceID)
            """,
            logger: context.logger
        )
        return .none
    }
}

/// A registered clinic.
public struct Clinic: Sendable, Equatable {
    public let id: UUID
    public let bin: String
    public let name: String

    /// Registers a clinic in the city of the current transaction.
    public static func register(
        bin: String,
        name: String,
        tenantID: UUID,
        on connection: PostgresConnection,
        logger: Logger
    ) async throws -> Clinic {
        let bin = try NationalIdentifier.bin(bin).digits
        let name = name.trimmingCharacters(in: .whitespacesAndNewlines)
        guard (1...200).contains(name.count) else {
            throw AdalError.invalidField(field: "name", reason: "1 to 200 characters")
        }
        let clinic = Clinic(id: UUID(), bin: bin, name: name)
        try await connection.run(
            "INSERT INTO clinics (tenant_id, id, bin, name) VALUES (\(tenantID), \(clinic.id), \(bin), \(name))",
            logger: logger
        )
        return clinic
    }

    /// Lists an account among the clinic's doctors, in the current transaction's city; adding
    /// one already listed changes nothing.
    public func addStaff(userID: UUID, tenantID: UUID, on connection: PostgresConnection, logger: Logger) async throws {
        try await connection.run(
            """
            INSERT INTO clinic_staff (tenant_id, clinic_id, user_id) VALUES (\(tenantID), \(id), \(userID))
            ON CONFLICT DO NOTHING
            """,
            logger: logger
        )
    }

    /// The clinics that list the account among their doctors.
    public static func ofStaff(
        userID: UUID,
        tenantID: UUID,
        on connection: PostgresConnection,
        logger: Logger
    ) async throws -> [Clinic] {
        let rows = try await connection.query(
            """
            SELECT c.id, c.bin, c.name FROM clinic_staff s
            JOIN clinics c ON c.tenant_id = s.tenant_id AND c.id = s.clinic_id
            WHERE s.tenant_id = \(tenantID) AND s.user_id = \(userID) ORDER BY c.name
            """,
            logger: logger
        )
        var clinics: [Clinic] = []
        for try await (id, bin, name) in rows.decode((UUID, String, String).self) {
            clinics.append(Clinic(id: id, bin: bin, name: name))
        }
        return clinics
    }

    /// Refuses a step by anyone the clinic does not list among its doctors: a doctor signs only
    /// in their own clinic's name.
    func requireStaff(_ context: StepContext) async throws {
        guard let userID = context.actor.id,
            try await Self.ofStaff(
                userID: userID,
                tenantID: context.tenantID,
                on: context.connection,
                logger: context.logger
            )
            .contains(self)
        else { throw AdalError.forbidden(reason: "you are not a doctor of clinic \(bin)") }
    }

    public static func find(
        bin: String,
        tenantID: UUID,
        on connection: PostgresConnection,
        _ logger: Logger
    ) async throws
        -> Clinic?
    {
        let rows = try await connection.query(
            "SELECT id, bin, name FROM clinics WHERE tenant_id = \(tenantID) AND bin = \(bin)",
            logger: logger
        )
        var found: Clinic?
        for try await (id, bin, name) in rows.decode((UUID, String, String).self) {
            found = Clinic(id: id, bin: bin, name: name)
        }
        return found
    }
}

/// The certificate row behind an instance.
struct CertificateRecord {
    var id: [UInt8]
    var instanceID: UUID
    var clinic: Clinic
    var patientIIN: String
    var patientName: String
    var dateOfBirth: String
    var employerBIN: String
    var periodStart: String
    var periodEnd: String
    var version: Int

    static func load(instance: UUID, on context: StepContext) async throws -> CertificateRecord? {
        let rows = try await context.connection.query(
            """
            SELECT c.id, c.patient_iin, c.patient_name, c.date_of_birth::text, c.employer_bin, c.period_start::text,
                c.period_end::text, c.current_version, k.id, k.bin, k.name
            FROM certificates c JOIN clinics k ON k.tenant_id = c.tenant_id AND k.id = c.clinic_id
            WHERE c.tenant_id = \(context.tenantID) AND c.instance_id = \(instance)
            FOR UPDATE OF c
            """,
            logger: context.logger
        )
        var found: CertificateRecord?
        for try await row in rows.decode(
            (Data, String, String, String, String, String, String, Int32, UUID, String, String).self
        ) {
            found = CertificateRecord(
                id: Array(row.0),
                instanceID: instance,
                clinic: Clinic(id: row.8, bin: row.9, name: row.10),
                patientIIN: row.1,
                patientName: row.2,
                dateOfBirth: row.3,
                employerBIN: row.4,
                periodStart: row.5,
                periodEnd: row.6,
                version: Int(row.7)
            )
        }
        return found
    }

    func save(
        status: SickLeaveToken.Status,
        tenantID: UUID,
        on connection: PostgresConnection,
        logger: Logger
    )
        async throws
    {
        try await connection.run(
            """
            INSERT INTO certificates (tenant_id, id, instance_id, clinic_id, patient_iin, patient_name, date_of_birth,
                employer_bin, period_start, period_end, status, current_version)
            VALUES (\(tenantID), \(Data(id)), \(instanceID), \(clinic.id), \(patientIIN), \(patientName),
                \(dateOfBirth)::date, \(employerBIN), \(periodStart)::date, \(periodEnd)::date, \(status.rawValue),
                \(Int32(version)))
            ON CONFLICT (tenant_id, id) DO UPDATE
            SET period_end = EXCLUDED.period_end, status = EXCLUDED.status, current_version = EXCLUDED.current_version
            """,
            logger: logger
        )
    }
}

/// Positions in the city's status list: random, so a position says nothing about when or in
/// what order certificates were issued.
enum StatusIndex {
    /// Size of the status list; positions are drawn from it without repetition.
    static let listSize: Int32 = 1 << 20

    static func allocate(tenantID: UUID, on connection: PostgresConnection, logger: Logger) async throws -> Int {
        for _ in 0..<16 {
            let candidate = Int32.random(in: 0..<listSize)
            let rows = try await connection.query(
                """
                SELECT 1 FROM certificate_versions WHERE tenant_id = \(tenantID) AND status_index = \(candidate)
                """,
                logger: logger
            )
            var taken = false
            for try await _ in rows { taken = true }
            if !taken { return Int(candidate) }
        }
        throw AdalError.unavailable(reason: "no free status-list position found")
    }
}
