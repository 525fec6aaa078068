import Core
import Foundation
import Logging
import PostgresNIO
import Storage
import Workflow

/// The Swift half of `workflows/open-budget.yaml` (a spending entry with its document), and the
/// handler that books other services' spending (a meal delivery) on the objects it concerns.
public enum OpenBudgetService {
    public static let key = "open-budget"

    public static var implementation: ServiceImplementation {
        ServiceImplementation(key: key, actions: ["record_spending": { try await recordSpending($0) }])
    }

    static func recordSpending(_ context: StepContext) async throws -> StepEffects {
        let code = context.input.string("object_code") ?? ""
        guard
            let object = try await BudgetStore.find(
                code,
                tenantID: context.tenantID,
                on: context.connection,
                logger: context.logger
            )
        else { throw WorkflowError.refused(reason: "object_code: no object \(code) in this city") }
        guard let attachment = context.attachment else {
            throw WorkflowError.refused(reason: "document: the file itself is missing")
        }
        let files = try MediaStore.matching(
            [attachment],
            fields: ["document"],
            allowed: MediaFile.documentTypes,
            context: context
        )
        for file in files {
            try await MediaStore.store(
                file,
                tenantID: context.tenantID,
                at: context.now,
                on: context.connection,
                logger: context.logger
            )
        }
        let category = BudgetCategory(rawValue: context.input.string("category") ?? "") ?? .maintenance
        let year = Int(context.input.integer("year") ?? 0)
        try await BudgetStore.recordSpending(
            SpendingEntry(
                instanceID: context.instanceID,
                sequence: context.sequence,
                objectCode: code,
                year: year,
                category: category,
                amount: context.input.integer("amount") ?? 0,
                source: .manual,
                description: context.input.string("description") ?? "",
                document: files.first?.sha256Hex,
                recordedAt: context.now,
                service: key
            ),
            tenantID: context.tenantID,
            on: context.connection,
            logger: context.logger
        )
        return StepEffects(
            identifiers: [object.organisationBIN],
            subject: "\(object.name): \(category.rawValue) \(year)"
        )
    }

    /// Books a `budget.spent` message on the organisation's objects of the kind named; an
    /// organisation with no such object on the map books nothing (logged). Delivered twice, it
    /// books once: the entry's key is the step that spent the money.
    public static func handlers(database: Database) -> [String: JobRunner.Handler] {
        [
            BudgetSpending.topic: { message, tenantID in
                guard case .object(let members) = message.payload else { return }
                let payload = members.compactMapValues { value -> String? in
                    if case .string(let text) = value { return text }
                    return nil
                }
                guard let bin = payload["bin"], let year = payload["year"].flatMap(Int.init),
                    let category = payload["category"].flatMap(BudgetCategory.init(rawValue:)),
                    let amount = payload["amount"].flatMap(Int64.init), amount > 0,
                    let instanceID = payload["instance"].flatMap(UUID.init(uuidString:)),
                    let sequence = payload["sequence"].flatMap(Int64.init)
                else { return }
                let description = payload["description"] ?? ""
                try await database.withTenant(tenantID) { connection in
                    let codes = try await BudgetStore.objects(
                        run: bin,
                        kind: .school,
                        tenantID: tenantID,
                        on: connection,
                        logger: database.logger
                    )
                    guard let code = codes.first else {
                        database.logger.info("spending for an organisation not on the map", metadata: ["bin": "\(bin)"])
                        return
                    }
                    try await BudgetStore.recordSpending(
                        SpendingEntry(
                            instanceID: instanceID,
                            sequence: sequence,
                            objectCode: code,
                            year: year,
                            category: category,
                            amount: amount,
                            source: .mealDelivery,
                            description: String(description.prefix(1000)),
                            document: nil,
                            recordedAt: Date(),
                            service: ""
                        ),
                        tenantID: tenantID,
                        on: connection,
                        logger: database.logger
                    )
                }
            }
        ]
    }
}
