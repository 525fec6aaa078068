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
}
