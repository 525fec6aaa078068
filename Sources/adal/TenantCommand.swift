import ArgumentParser
import Core
import Storage
import Web
import Workflow

/// `adal tenant`: cities and regions.
struct TenantCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tenant",
        abstract: "Create and list cities (tenants).",
        subcommands: [Create.self, List.self, ServiceCommand.self]
    )

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Create a city.",
            discussion:
                "Example: adal tenant create almaty --name-kk Алматы --name-ru Алматы --name-en Almaty --service sick-leave"
        )

        @OptionGroup var common: CommonOptions
        @Argument(help: "Short name used in URLs: lowercase Latin letters, digits, inner hyphens.")
        var slug: String
        @Option(help: "Name in Kazakh.") var nameKk: String
        @Option(help: "Name in Russian.") var nameRu: String
        @Option(help: "Name in English.") var nameEn: String
        @Option(help: "Region (oblast) or city of republican significance.") var region: String = ""
        @Option(
            name: .customLong("service"),
            help:
                "A service to turn on; repeat for several. One of: \(ServiceKey.allCases.map(\.rawValue).joined(separator: ", "))."
        )
        var services: [String] = []

        func run() async throws {
            let slug = try TenantSlug(slug)
            let name = LocalizedText(kk: nameKk, ru: nameRu, en: nameEn)
            let services = try services.map { try ServiceKey.parse($0) }
            let region = self.region
            let logger = try common.logger()
            try await withPreparedDatabase(try common.configuration(), logger: logger) { endpoints in
                let tenant = try await endpoints.withOwner(logger: logger) { database in
                    let store = PostgresTenantStore(database: database)
                    let tenant = try await store.create(slug: slug, name: name, region: region)
                    for service in services { try await store.enable(service, tenantID: tenant.id) }
                    return tenant
                }
                print("Created \(tenant.slug) (\(tenant.name.en)), id \(tenant.id).")
            }
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List the cities.")
        @OptionGroup var common: CommonOptions

        func run() async throws {
            let logger = try common.logger()
            try await withPreparedDatabase(try common.configuration(), logger: logger) { endpoints in
                let tenants = try await endpoints.withOwner(logger: logger) { database in
                    try await PostgresTenantStore(database: database).tenants()
                }
                if tenants.isEmpty { print("No cities yet: create one with 'adal tenant create'.") }
                for tenant in tenants {
                    print("\(tenant.slug)\t\(tenant.name.kk)\t\(tenant.name.ru)\t\(tenant.name.en)\t\(tenant.region)")
                }
            }
        }
    }
}

/// `adal tenant service set`: a city's pinned version and parameters of one service.
struct ServiceCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "service",
        abstract: "Configure a city's services.",
        subcommands: [Set.self]
    )

    struct Set: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Turn a service on for a city, pin its version and set parameters.",
            discussion:
                "Example: adal tenant service set astana equipment-request --version 1 --parameter review_time='3 working days'"
        )

        @OptionGroup var common: CommonOptions
        @Argument(help: "The city's slug.") var city: String
        @Argument(help: "Service key (see 'adal workflow show').") var service: String
        @Option(help: "Definition version to pin; without it the city follows the latest loaded version.")
        var version: Int?
        @Option(name: .customLong("parameter"), help: "name=value; repeat for several.") var parameters: [String] = []

        func run() async throws {
            let configuration = try common.configuration()
            let registry = try WorkflowCommand.registry(path: configuration.workflowsDirectory)
            let definition: WorkflowDefinition
            do {
                definition = try registry.resolve(service, pinned: version)
            } catch {
                throw CommandFailure("\(error) in \(configuration.workflowsDirectory)")
            }
            var changes: [String: InputValue] = [:]
            for assignment in parameters {
                let parts = assignment.split(separator: "=", maxSplits: 1).map(String.init)
                guard parts.count == 2, let parameter = definition.parameter(parts[0]) else {
                    let known = definition.parameters.map(\.name).joined(separator: ", ")
                    throw ValidationError("'\(assignment)' is not name=value with a parameter of \(service) (\(known))")
                }
                changes[parameter.name] = ParameterSet.setting(fromText: parts[1], for: parameter)
            }
            let (city, key, pinned, settings) = (city, service, version, changes)
            let logger = try common.logger()
            try await withPreparedDatabase(configuration, logger: logger) { endpoints in
                let values = try await endpoints.withOwner(logger: logger) { database in
                    let tenant = try await requireTenant(city, in: database)
                    // Recorded as a step of the city's settings record, by the system (the operator).
                    return try await WorkflowEngine(database: database, registry: registry).changeSettings(
                        tenantID: tenant.id,
                        service: key,
                        version: pinned,
                        changes: settings,
                        actor: .system
                    )
                }
                print("\(city): \(key) on, version \(pinned.map(String.init) ?? "latest")")
                for (name, value) in values.values.sorted(by: { $0.key < $1.key }) { print("  \(name) = \(value)") }
            }
        }
    }
}

/// Finds a tenant by slug or fails with a sentence naming it.
func requireTenant(_ slug: String, in database: Database) async throws -> Tenant {
    guard let tenant = try await PostgresTenantStore(database: database).tenant(slug: slug) else {
        throw ValidationError("there is no city '\(slug)'; see 'adal tenant list'")
    }
    return tenant
}
