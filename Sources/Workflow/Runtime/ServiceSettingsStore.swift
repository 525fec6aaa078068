import Core
import Foundation
import PostgresNIO
import Storage

/// A city's configuration of one service: the pinned definition version and its parameters.
public struct ServiceSettings: Sendable, Equatable {
    public let service: String
    /// nil: the latest loaded version.
    public let version: Int?
    public let parameters: [String: InputValue]
}

/// Reads and writes the pinned version and parameters in `tenant_services`.
public struct ServiceSettingsStore: Sendable {
    let database: Database
    let registry: WorkflowRegistry

    public init(database: Database, registry: WorkflowRegistry) {
        self.database = database
        self.registry = registry
    }

    /// The city's settings of every service it has turned on.
    public func settings(tenantID: UUID) async throws -> [ServiceSettings] {
        try await database.withTenant(tenantID) { connection in
            var result: [ServiceSettings] = []
            let rows = try await connection.query(
                """
                SELECT service_key, definition_version, parameters::text FROM tenant_services
                WHERE tenant_id = \(tenantID) ORDER BY service_key
                """,
                logger: database.logger
            )
            for try await (service, version, parameters) in rows.decode((String, Int32?, String).self) {
                result.append(
                    ServiceSettings(
                        service: service,
                        version: version.map(Int.init),
                        parameters: try JSONDecoder().decode([String: InputValue].self, from: Data(parameters.utf8))
                    )
                )
            }
            return result
        }
    }

    /// Turns `service` on (if it was not) with `version` pinned and `changes` applied over the
    /// city's current parameters. Everything is checked against the definition before anything
    /// is written; returns the parameters now in force.
    @discardableResult
    public func set(
        tenantID: UUID,
        service: String,
        version: Int?,
        changes: [String: InputValue]
    ) async throws -> ParameterSet {
        let definition = try registry.resolve(service, pinned: version)
        let current = try await settings(tenantID: tenantID).first { $0.service == service }?.parameters ?? [:]
        let merged = current.merging(changes) { $1 }
        let parameters = try ParameterSet(definition: definition, settings: merged)
        let stored = InputValue.object(merged).canonicalJSON
        let pinned = version.map(Int32.init)
        try await database.withTenant(tenantID) { connection in
            try await connection.query(
                """
                INSERT INTO tenant_services (tenant_id, service_key, definition_version, parameters)
                VALUES (\(tenantID), \(service), \(pinned), \(stored)::jsonb)
                ON CONFLICT (tenant_id, service_key) DO UPDATE
                SET definition_version = EXCLUDED.definition_version, parameters = EXCLUDED.parameters,
                    updated_at = now()
                """,
                logger: database.logger
            )
        }
        return parameters
    }
}
