import Core
import Foundation
import SickLeave
import Storage

/// The demo cities and their users.
public enum DemoData {
    /// The one password of every demo login.
    public static let password = "adal-demo-2026"

    public struct City: Sendable {
        public var slug: String
        public var name: LocalizedText
        public var region: String
    }

    public static let cities = [
        City(
            slug: "astana",
            name: LocalizedText(kk: "Астана", ru: "Астана", en: "Astana"),
            region: ""
        ),
        City(
            slug: "shymkent",
            name: LocalizedText(kk: "Шымкент", ru: "Шымкент", en: "Shymkent"),
            region: ""
        ),
    ]

    /// Creates what is missing and returns the lines to print: one login per role and city.
    public static func seed(database: Database, configuration: AppConfiguration) async throws -> [String] {
        let tenants = PostgresTenantStore(database: database)
        let accounts = AccountService(
            store: PostgresAccountStore(database: database),
            hasher: BcryptHasher(cost: configuration.bcryptCost)
        )
        var lines = ["", "Demo logins (password for all: \(password)):"]
        for (cityNumber, city) in cities.enumerated() {
            let slug = try TenantSlug(city.slug)
            let tenant: Tenant
            if let existing = try await tenants.tenant(slug: city.slug) {
                tenant = existing
            } else {
                tenant = try await tenants.create(slug: slug, name: city.name, region: city.region)
            }
            for service in ServiceKey.allCases { try await tenants.enable(service, tenantID: tenant.id) }
            for (roleNumber, role) in Role.allCases.enumerated() {
                let login = role.rawValue.replacingOccurrences(of: "_", with: "-")
                if try await accounts.store.user(login: login, tenantID: tenant.id) == nil {
                    let user = NewUser(
                        login: login,
                        displayName: "Demo \(role.rawValue.replacingOccurrences(of: "_", with: " "))",
                        iin: demoIIN(seed: cityNumber * 100 + roleNumber),
                        roles: [role]
                    )
                    _ = try await accounts.createUser(user, password: password, tenantID: tenant.id)
                }
                lines.append("  http://\(configuration.host):\(configuration.port)/\(city.slug)/login  \(login)")
            }
            // One clinic per city, with the demo doctor on its staff, so certificates can be opened at once.
            let clinicBIN = cityNumber == 0 ? "940140000385" : "070941024691"
            let doctor = try await accounts.store.user(login: "clinic-doctor", tenantID: tenant.id)
            try await database.withTenant(tenant.id) { connection in
                var clinic = try await Clinic.find(bin: clinicBIN, tenantID: tenant.id, on: connection, database.logger)
                if clinic == nil {
                    clinic = try await Clinic.register(
                        bin: clinicBIN,
                        name: cityNumber == 0 ? "Қалалық емхана №4" : "№2 қалалық емхана",
                        tenantID: tenant.id,
                        on: connection,
                        logger: database.logger
                    )
                }
                if let doctor, let clinic {
                    try await clinic.addStaff(
                        userID: doctor.id,
                        tenantID: tenant.id,
                        on: connection,
                        logger: database.logger
                    )
                }
            }
        }
        return lines
    }

    /// A valid, generated IIN for a demo person born in 1980–1999; never a real person's on purpose.
    public static func demoIIN(seed: Int) -> NationalIdentifier? {
        let year = 80 + seed % 20
        let month = 1 + seed % 12
        let day = 1 + seed % 28
        let prefix = String(format: "%02d%02d%02d%d", year, month, day, 3 + seed % 2)
        for serial in 0..<10_000 {
            if let digits = NationalIdentifier.completing(prefix + String(format: "%04d", serial)) {
                return try? NationalIdentifier.iin(digits)
            }
        }
        return nil
    }
}
