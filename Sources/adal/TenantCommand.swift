import ArgumentParser
import Core
import Storage
import Web

/// `adal tenant`: cities and regions.
struct TenantCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tenant",
        abstract: "Create and list cities (tenants).",
        subcommands: [Create.self, List.self]
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

/// Finds a tenant by slug or fails with a sentence naming it.
func requireTenant(_ slug: String, in database: Database) async throws -> Tenant {
    guard let tenant = try await PostgresTenantStore(database: database).tenant(slug: slug) else {
        throw ValidationError("there is no city '\(slug)'; see 'adal tenant list'")
    }
    return tenant
}
