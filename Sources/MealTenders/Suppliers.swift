import Core
import Foundation
import Logging
import PostgresNIO
import Storage
import Workflow

/// The city's register of meal suppliers: each is a BIN with its documents, tied to the account
/// that bids and signs for it.
public struct Suppliers: Sendable {
    /// Documents one supplier may keep on file.
    public static let maximumDocuments = 10
    public static let documentKinds: Set<String> = ["registration", "sanitary_permit", "staff", "other"]

    let database: Database

    public init(database: Database) {
        self.database = database
    }

    /// Registers the supplier (or, for the same account, updates its name and adds documents).
    /// A BIN another account registered is refused.
    public func register(
        tenantID: UUID,
        userID: UUID,
        bin: String,
        name: String,
        documents: [(kind: String, document: Document)]
    ) async throws {
        let bin = try NationalIdentifier.bin(bin).digits
        let name = name.trimmingCharacters(in: .whitespacesAndNewlines)
        guard (1...300).contains(name.count) else {
            throw AdalError.invalidField(field: "name", reason: "1 to 300 characters")
        }
        for (index, entry) in documents.enumerated() where !Self.documentKinds.contains(entry.kind) {
            throw AdalError.invalidField(
                field: "documents[\(index)].kind",
                reason: "one of " + Self.documentKinds.sorted().joined(separator: ", ")
            )
        }
        let logger = database.logger
        try await database.withTenant(tenantID) { connection in
            var owner: UUID?
            for try await user in try await connection.query(
                "SELECT user_id FROM meal_suppliers WHERE tenant_id = \(tenantID) AND bin = \(bin) FOR UPDATE",
                logger: logger
            ).decode(UUID.self) {
                owner = user
            }
            if let owner, owner != userID {
                throw AdalError.conflict(reason: "supplier \(bin) is registered by another account")
            }
            do {
                try await connection.run(
                    """
                    INSERT INTO meal_suppliers (tenant_id, bin, name, user_id, registered_at)
                    VALUES (\(tenantID), \(bin), \(name), \(userID), now())
                    ON CONFLICT (tenant_id, bin) DO UPDATE SET name = EXCLUDED.name
                    """,
                    logger: logger
                )
            } catch let error as PSQLError where error.serverInfo?[.sqlState] == "23505" {
                throw AdalError.conflict(reason: "this account already registered another supplier")
            }
            for entry in documents {
                let document = entry.document
                try await connection.run(
                    """
                    INSERT INTO meal_supplier_documents (
                        tenant_id, bin, sha256, kind, name, media_type, size, content, uploaded_at)
                    VALUES (\(tenantID), \(bin), \(Data(document.sha256)), \(entry.kind), \(document.name),
                        \(document.mediaType.rawValue), \(Int32(document.content.count)), \(Data(document.content)), now())
                    ON CONFLICT DO NOTHING
                    """,
                    logger: logger
                )
            }
            for try await count in try await connection.query(
                "SELECT count(*)::int FROM meal_supplier_documents WHERE tenant_id = \(tenantID) AND bin = \(bin)",
                logger: logger
            ).decode(Int32.self) where count > Self.maximumDocuments {
                throw AdalError.invalidField(
                    field: "documents",
                    reason: "a supplier keeps at most \(Self.maximumDocuments) documents on file"
                )
            }
        }
    }

    /// Whether a supplier with `bin` is registered in the step's city.
    static func isRegistered(_ bin: String, _ context: StepContext) async throws -> Bool {
        for try await _ in try await context.connection.query(
            "SELECT 1 FROM meal_suppliers WHERE tenant_id = \(context.tenantID) AND bin = \(bin)",
            logger: context.logger
        ) {
            return true
        }
        return false
    }

    /// The supplier the account bids for: BIN and name.
    public func supplier(of userID: UUID, tenantID: UUID) async throws -> (bin: String, name: String)? {
        let logger = database.logger
        return try await database.withTenant(tenantID) { connection in
            for try await row in try await connection.query(
                "SELECT bin, name FROM meal_suppliers WHERE tenant_id = \(tenantID) AND user_id = \(userID)",
                logger: logger
            ).decode((String, String).self) {
                return (bin: row.0, name: row.1)
            }
            return nil
        }
    }
}

/// The outbox handlers of the competitions: the step after the bids are opened, and the new
/// contract's price told to the canteen payments — each harmless when delivered twice.
public enum CompetitionOutbox {
    public static func handlers(engine: WorkflowEngine, contracts: any MealContracts) -> [String: JobRunner.Handler] {
        [
            CompetitionService.openedTopic: { message, tenantID in
                guard case .object(let payload) = message.payload, case .string(let text)? = payload["instance"],
                    let instance = UUID(uuidString: text), case .integer(let round)? = payload["round"]
                else { return }
                do {
                    _ = try await engine.fire(
                        tenantID: tenantID,
                        instanceID: instance,
                        event: "begin_scoring",
                        actor: .system,
                        input: [:],
                        idempotencyKey: "opened-\(instance)-\(round)"
                    )
                } catch WorkflowError.refused {
                    _ = try await engine.fire(
                        tenantID: tenantID,
                        instanceID: instance,
                        event: "declare_failed",
                        actor: .system,
                        input: [:],
                        idempotencyKey: "failed-\(instance)-\(round)"
                    )
                } catch AdalError.conflict {
                    // Already moved on (an earlier delivery of this message, or an officer).
                }
            },
            CompetitionService.contractTopic: { message, tenantID in
                guard case .object(let payload) = message.payload, case .string(let school)? = payload["school_bin"],
                    case .string(let name)? = payload["school_name"],
                    case .string(let supplier)? = payload["supplier_bin"],
                    case .integer(let price)? = payload["price_per_meal"]
                else { return }
                try await contracts.contractInForce(
                    tenantID: tenantID,
                    schoolBIN: school,
                    schoolName: name,
                    supplierBIN: supplier,
                    pricePerMeal: price
                )
            },
        ]
    }
}
