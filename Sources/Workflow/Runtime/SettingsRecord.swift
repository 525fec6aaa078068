import Core
import Foundation
import Logging
import PostgresNIO
import Storage

/// Every change of a city's service settings (the pinned version, the parameters) is a step of
/// the city's one instance of `workflows/service-settings.yaml`: the `apply_settings` action
/// checks the change against the service's definition and writes `tenant_services` in the step's
/// own transaction, so the change and its audit leaf commit together or not at all.
public enum SettingsRecord {
    public static let key = "service-settings"
    static let recordKey = "service-settings-record"

    public static var implementation: ServiceImplementation {
        ServiceImplementation(key: key, guards: [:], actions: ["apply_settings": { try await apply($0) }])
    }

    /// Merges the step's changes over the service's current parameters, under a lock on its
    /// row; refused (nothing written) when the definition does not allow the result.
    static func apply(_ context: StepContext) async throws -> StepEffects {
        let service = context.input.string("service") ?? ""
        guard service != key else {
            throw AdalError.invalidField(field: "service", reason: "the settings record has no settings of its own")
        }
        let version = context.input.integer("version").map(Int.init)
        guard let data = context.input.string("parameters")?.data(using: .utf8),
            let changes = try? JSONDecoder().decode([String: InputValue].self, from: data)
        else { throw AdalError.invalidField(field: "parameters", reason: "a JSON object of parameter values") }
        let definition = try context.registry.resolve(service, pinned: version)
        let (connection, logger, tenantID) = (context.connection, context.logger, context.tenantID)
        var current: [String: InputValue] = [:]
        for try await text in try await connection.query(
            """
            SELECT parameters::text FROM tenant_services
            WHERE tenant_id = \(tenantID) AND service_key = \(service) FOR UPDATE
            """,
            logger: logger
        ).decode(String.self) {
            current = (try? JSONDecoder().decode([String: InputValue].self, from: Data(text.utf8))) ?? [:]
        }
        let merged = current.merging(changes) { $1 }
        _ = try ParameterSet(definition: definition, settings: merged)
        try await connection.run(
            """
            INSERT INTO tenant_services (tenant_id, service_key, definition_version, parameters)
            VALUES (\(tenantID), \(service), \(version.map(Int32.init)), \(InputValue.object(merged).canonicalJSON)::jsonb)
            ON CONFLICT (tenant_id, service_key) DO UPDATE
            SET definition_version = EXCLUDED.definition_version, parameters = EXCLUDED.parameters, updated_at = now()
            """,
            logger: logger
        )
        return StepEffects(subject: "settings")
    }
}

extension WorkflowEngine {
    /// Turns `service` on (if it was not) with `version` pinned and `changes` applied over the
    /// city's current parameters, as a recorded step; returns the parameters now in force.
    @discardableResult
    public func changeSettings(
        tenantID: UUID,
        service: String,
        version: Int?,
        changes: [String: InputValue],
        actor: StepActor
    ) async throws -> ParameterSet {
        let record = try await settingsRecord(tenantID: tenantID, actor: actor)
        var input: [String: InputValue] = [
            "service": .string(service), "parameters": .string(InputValue.object(changes).canonicalJSON),
        ]
        if let version { input["version"] = .integer(Int64(version)) }
        _ = try await fire(tenantID: tenantID, instanceID: record, event: "change", actor: actor, input: input)
        let settings = try await ServiceSettingsStore(database: database, registry: registry).settings(
            tenantID: tenantID
        )
        let definition = try registry.resolve(service, pinned: version)
        return try ParameterSet(
            definition: definition,
            settings: settings.first { $0.service == service }?.parameters ?? [:]
        )
    }

    /// The city's settings record, opened on first use (its start is idempotent, so two first
    /// changes at once open one record).
    func settingsRecord(tenantID: UUID, actor: StepActor) async throws -> UUID {
        let logger = database.logger
        try await database.withTenant(tenantID) { connection in
            try await connection.run(
                """
                INSERT INTO tenant_services (tenant_id, service_key) VALUES (\(tenantID), \(SettingsRecord.key))
                ON CONFLICT DO NOTHING
                """,
                logger: logger
            )
        }
        if let found = try await WorkflowQueries(database: database).search(
            InstanceFilter(service: SettingsRecord.key, limit: 1),
            tenantID: tenantID
        ).first {
            return found.id
        }
        return try await start(
            tenantID: tenantID,
            service: SettingsRecord.key,
            actor: actor,
            input: [:],
            idempotencyKey: SettingsRecord.recordKey
        ).instanceID
    }
}
