import Core
import Foundation
import Logging
import PostgresNIO

extension WorkflowEngine {
    /// Most instances moved by one call (one transaction).
    public static let maximumMigrationBatch = 10_000

    /// Moves a city's running instances of `service` from one version to another. `stateMap`
    /// names each state's new name; a state it leaves out keeps its name. The whole move is
    /// refused, with nothing written, when any running instance would land in a state the new
    /// version lacks, or its frozen parameters do not fit the new version. Each move is a step
    /// (event `migrate`, with both versions as input) and an audit leaf; the old state's timers
    /// are cancelled and the new state's started. Returns how many instances moved.
    public func migrate(
        tenantID: UUID,
        service: String,
        from fromVersion: Int,
        to toVersion: Int,
        stateMap: [String: String],
        actor: StepActor
    ) async throws -> Int {
        guard let source = registry.definition(service, version: fromVersion) else {
            throw AdalError.invalidField(field: "from", reason: "\(service)@\(fromVersion) is not loaded")
        }
        guard let target = registry.definition(service, version: toVersion) else {
            throw AdalError.invalidField(field: "to", reason: "\(service)@\(toVersion) is not loaded")
        }
        guard fromVersion != toVersion else {
            throw AdalError.invalidField(field: "to", reason: "the instances are on version \(toVersion) already")
        }
        for name in stateMap.keys.sorted() where source.state(name) == nil {
            throw AdalError.invalidField(field: "map", reason: "\(source.reference) has no state '\(name)'")
        }
        return try await database.withTenant(tenantID) { connection in
            let rows = try await connection.query(
                """
                SELECT id, state, last_sequence, parameters::text FROM workflow_instances
                WHERE tenant_id = \(tenantID) AND service_key = \(service) AND definition_version = \(Int32(fromVersion))
                  AND definition_sha256 = \(source.sha256) AND closed_at IS NULL
                ORDER BY id LIMIT \(Int64(Self.maximumMigrationBatch)) FOR UPDATE
                """,
                logger: database.logger
            )
            var instances: [(id: UUID, state: String, sequence: Int64, parameters: String)] = []
            for try await row in rows.decode((UUID, String, Int64, String).self) { instances.append(row) }
            let stranded = Set(instances.map(\.state).filter { target.state(stateMap[$0] ?? $0) == nil })
            guard stranded.isEmpty else {
                let names = stranded.sorted().map { "'\($0)'" }.joined(separator: ", ")
                throw AdalError.invalidField(
                    field: "map",
                    reason: "instances in \(names) would be left in a state \(target.reference) does not have; map them"
                )
            }
            for instance in instances {
                let settings = try JSONDecoder().decode([String: InputValue].self, from: Data(instance.parameters.utf8))
                let parameters = try ParameterSet(definition: target, settings: settings)
                let destination = stateMap[instance.state] ?? instance.state
                let event = EventDefinition(
                    name: EventDefinition.migrateName,
                    title: LocalizedText(kk: "Нұсқаны ауыстыру", ru: "Смена версии", en: "Version change"),
                    from: [instance.state],
                    to: destination,
                    actors: [.system, .role(.akimatAdmin)],
                    input: [
                        FieldDefinition(
                            name: "from_version",
                            type: .int(minimum: 1, maximum: 1_000_000),
                            required: true,
                            location: Self.noLocation
                        ),
                        FieldDefinition(
                            name: "to_version",
                            type: .int(minimum: 1, maximum: 1_000_000),
                            required: true,
                            location: Self.noLocation
                        ),
                    ],
                    guards: [],
                    actions: [],
                    location: Self.noLocation
                )
                let step = try await prepared(
                    try await check(
                        connection,
                        tenantID: tenantID,
                        instanceID: instance.id,
                        definition: target,
                        event: event,
                        fromState: instance.state,
                        actor: actor,
                        input: [
                            "from_version": .integer(Int64(fromVersion)), "to_version": .integer(Int64(toVersion)),
                        ],
                        parameters: parameters,
                        sequence: instance.sequence + 1
                    )
                )
                // Every timer of the old version goes; the new state's start afresh.
                try await connection.query(
                    """
                    UPDATE workflow_instances SET definition_version = \(Int32(toVersion)), definition_sha256 = \(target.sha256),
                        parameters = \(parameters.json.canonicalJSON)::jsonb
                    WHERE tenant_id = \(tenantID) AND id = \(instance.id)
                    """,
                    logger: database.logger
                )
                try await write(step, on: connection, start: false, key: nil, request: [], cancelAllTimers: true)
            }
            return instances.count
        }
    }

    static let noLocation = SourceLocation(file: "(engine)", line: 1, column: 1)
}
