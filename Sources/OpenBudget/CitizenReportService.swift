import Core
import Foundation
import Logging
import PostgresNIO
import Storage
import Workflow

/// The Swift half of `workflows/citizen-report.yaml`. The step that submits a report is handed
/// an attachment bundle: the reporter's contact (empty when signed in) and then the files the
/// input describes. The contact is stored sealed, the files cleaned and by hash, in the step's
/// own transaction.
public struct CitizenReportService: Sendable {
    public static let key = "citizen-report"
    public static let fileFields = (1...MediaFile.maximumPerReport).map { "file_\($0)" }
    public static let maximumContact = 200
    /// Who reports as themselves when signed in: the people of the city, not its staff acting
    /// in their office (the definition's start lists the same roles).
    public static let reporterRoles: Set<Role> = [.resident, .parent, .employer, .auditor]

    let sealer: KeySealer

    public init(sealer: KeySealer) {
        self.sealer = sealer
    }

    public var implementation: ServiceImplementation {
        ServiceImplementation(
            key: Self.key,
            guards: ["report_allowed": { try await Self.allowed($0) }],
            actions: [
                "record_report": { try await record($0) },
                "record_answer": { try await Self.answer($0) },
            ]
        )
    }

    /// What a report says: the contact sealed to this report alone.
    static func associated(_ tenantID: UUID, _ instanceID: UUID) -> [UInt8] {
        Array("citizen-report|\(tenantID)|\(instanceID)".lowercased().utf8)
    }

    static func allowed(_ context: StepContext) async throws -> GuardVerdict {
        if context.actor.isSystem, case .bool(false)? = context.parameters["allow_anonymous"] {
            return .refuse("this city takes reports only from signed-in residents")
        }
        if (context.input.string("description") ?? "").trimmingCharacters(in: .whitespacesAndNewlines).isEmpty {
            return .refuse("description: say what is wrong")
        }
        let latitude = context.input.string("latitude")
        let longitude = context.input.string("longitude")
        if (latitude == nil) != (longitude == nil) { return .refuse("give both latitude and longitude, or neither") }
        if let latitude, Double(latitude).map({ (-90...90).contains($0) }) != true {
            return .refuse("latitude: a number from -90 to 90")
        }
        if let longitude, Double(longitude).map({ (-180...180).contains($0) }) != true {
            return .refuse("longitude: a number from -180 to 180")
        }
        if let code = context.input.string("object_code"),
            try await BudgetStore.find(
                code,
                tenantID: context.tenantID,
                on: context.connection,
                logger: context.logger
            )
                == nil
        {
            return .refuse("object_code: no object \(code) in this city")
        }
        return .pass
    }

    func record(_ context: StepContext) async throws -> StepEffects {
        let parts = try context.attachment.map(AttachmentBundle.decode) ?? [[]]
        let contactBytes = parts.first ?? []
        guard let contact = String(validating: contactBytes, as: UTF8.self), contact.count <= Self.maximumContact else {
            throw WorkflowError.refused(reason: "contact: at most \(Self.maximumContact) characters")
        }
        if context.actor.isSystem, contact.trimmingCharacters(in: .whitespaces).isEmpty {
            throw WorkflowError.refused(reason: "contact: an anonymous report needs a way to answer you")
        }
        let files = try MediaStore.matching(
            Array(parts.dropFirst()),
            fields: Self.fileFields,
            allowed: MediaFile.reportTypes,
            context: context
        )
        let (tenantID, connection, logger) = (context.tenantID, context.connection, context.logger)
        let sealed =
            contact.isEmpty
            ? nil
            : Data(try sealer.seal(Array(contact.utf8), associated: Self.associated(tenantID, context.instanceID)))
        let code = context.input.string("object_code")
        try await connection.run(
            """
            INSERT INTO citizen_reports (tenant_id, instance_id, object_code, category, description, latitude, longitude,
                address, reporter_id, sealed_contact, submitted_at)
            VALUES (\(tenantID), \(context.instanceID), \(code), \(context.input.string("category") ?? "other"),
                \(context.input.string("description") ?? ""), \(context.input.string("latitude").flatMap(Double.init)),
                \(context.input.string("longitude").flatMap(Double.init)), \(context.input.string("address") ?? ""),
                \(context.actor.id), \(sealed), \(context.now))
            """,
            logger: logger
        )
        for (position, file) in files.enumerated() {
            try await MediaStore.store(file, tenantID: tenantID, at: context.now, on: connection, logger: logger)
            try await connection.run(
                """
                INSERT INTO citizen_report_media (tenant_id, instance_id, position, sha256)
                VALUES (\(tenantID), \(context.instanceID), \(Int32(position + 1)), \(Data(file.sha256)))
                """,
                logger: logger
            )
        }
        let about = code ?? (context.input.string("address") ?? "")
        return StepEffects(subject: String("\(context.input.string("category") ?? "other"): \(about)".prefix(300)))
    }

    static func answer(_ context: StepContext) async throws -> StepEffects {
        try await context.connection.run(
            """
            UPDATE citizen_reports SET verdict = \(context.input.string("verdict")), answer = \(context.input.string("answer")),
                answered_at = \(context.now)
            WHERE tenant_id = \(context.tenantID) AND instance_id = \(context.instanceID)
            """,
            logger: context.logger
        )
        return .none
    }

    /// The contact an anonymous reporter left, for the akimat's officials only.
    public func contact(sealed: [UInt8], tenantID: UUID, instanceID: UUID) -> String? {
        (try? sealer.open(sealed, associated: Self.associated(tenantID, instanceID))).flatMap {
            String(validating: $0, as: UTF8.self)
        }
    }
}
