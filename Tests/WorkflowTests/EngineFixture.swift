import Core
import Foundation
import PostgresNIO
import Storage
import TestSupport
import Workflow

/// The Swift half of the equipment-request example: a guard on the city's amount limit and an
/// action that labels the instance and tells the officers.
enum EquipmentRequestService {
    static let implementation = ServiceImplementation(
        key: "equipment-request",
        guards: [
            "within_amount_limit": { context in
                let limit = context.parameters.integer("amount_limit") ?? 0
                let amount = context.input.integer("amount") ?? 0
                return amount <= limit ? .pass : .refuse("the amount is above this city's limit of \(limit) tiyn")
            }
        ],
        actions: [
            "describe_request": { context in
                let item = context.input.string("item") ?? ""
                return StepEffects(
                    outbox: [OutboxMessage(topic: "request.submitted", payload: .object(["item": .string(item)]))],
                    subject: "\(item) × \(context.input.integer("quantity") ?? 0)"
                )
            }
        ]
    )
}

/// Two cities with the equipment-request service enabled, and an engine on the application role.
struct EngineFixture: Sendable {
    let databases: TestDatabases
    let astana: Tenant
    let shymkent: Tenant
    let engine: WorkflowEngine

    let schoolAdmin = StepActor(id: UUID(), roles: [.schoolAdmin])
    let officer = StepActor(id: UUID(), roles: [.procurementOfficer])
    let akimatAdmin = StepActor(id: UUID(), roles: [.akimatAdmin])

    static let validStart: [String: InputValue] = [
        "school_bin": .string("940140000385"), "item": .string("Oven"), "quantity": .integer(2),
        "amount": .integer(120_000_00),
    ]

    static func registry() throws -> WorkflowRegistry {
        var registry = WorkflowRegistry(implementations: [EquipmentRequestService.implementation])
        try registry.add(try Fixtures.equipmentRequest())
        return registry
    }

    static func with(
        clock: @escaping @Sendable () -> Date = { Date() },
        _ body: @escaping @Sendable (EngineFixture) async throws -> Void
    ) async throws {
        try await TestDatabases.with { databases in
            let (astana, shymkent) = try await databases.createCitiesWithoutPasswords()
            for tenant in [astana, shymkent] {
                try await databases.application.withTenant(tenant.id) { connection in
                    try await connection.query(
                        "INSERT INTO tenant_services (tenant_id, service_key) VALUES (\(tenant.id), 'equipment-request')",
                        logger: databases.application.logger
                    )
                }
            }
            let engine = WorkflowEngine(database: databases.application, registry: try registry(), clock: clock)
            try await body(EngineFixture(databases: databases, astana: astana, shymkent: shymkent, engine: engine))
        }
    }

    /// Starts a request in Astana as the school administrator.
    func startRequest(_ input: [String: InputValue] = validStart, key: String? = nil) async throws -> StepResult {
        try await engine.start(
            tenantID: astana.id,
            service: "equipment-request",
            actor: schoolAdmin,
            input: input,
            idempotencyKey: key
        )
    }

    /// Fires `event` on an Astana instance.
    @discardableResult
    func fire(
        _ event: String,
        on instanceID: UUID,
        as actor: StepActor,
        input: [String: InputValue] = [:],
        key: String? = nil
    ) async throws -> StepResult {
        try await engine.fire(
            tenantID: astana.id,
            instanceID: instanceID,
            event: event,
            actor: actor,
            input: input,
            idempotencyKey: key
        )
    }

    /// A number from one query, read as the owner within Astana.
    func count(_ query: PostgresQuery, tenant: UUID? = nil) async throws -> Int {
        try await databases.owner.withTenant(tenant ?? astana.id) { connection in
            var value = 0
            for try await number in try await connection.query(query, logger: databases.owner.logger).decode(Int64.self)
            {
                value = Int(number)
            }
            return value
        }
    }

    /// Runs SQL as the owner within Astana (tests move timers into the past with it).
    func execute(_ query: PostgresQuery) async throws {
        try await databases.owner.withTenant(astana.id) { connection in
            try await connection.query(query, logger: databases.owner.logger)
        }
    }
}
