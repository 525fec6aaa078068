import Core
import Foundation
import Workflow

extension AppDependencies {
    /// The definition a city runs of `service` (its pinned version, else the latest) and the
    /// city's parameters for it; 404 when the city has not turned the service on.
    func cityService(_ service: String, tenantID: UUID) async throws -> (WorkflowDefinition, ParameterSet) {
        let registry = workflows.registry
        let settings = try await ServiceSettingsStore(database: database, registry: registry).settings(
            tenantID: tenantID
        )
        guard let setting = settings.first(where: { $0.service == service }),
            let definition = try? registry.resolve(service, pinned: setting.version)
        else { throw AdalError.notFound(what: "service '\(service)'") }
        return (definition, try ParameterSet(definition: definition, settings: setting.parameters))
    }
}
