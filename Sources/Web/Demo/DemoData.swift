import Core
import Foundation
import PrincipalRotation
import SickLeave
import Storage

/// One demo city as each service's demo data is seeded into it.
struct DemoCity {
    let tenant: Tenant
    /// 0 for Astana, 1 for Shymkent: what varies the generated names and numbers.
    let cityNumber: Int
    let accounts: AccountService
    let database: Database
    let configuration: AppConfiguration

    var parts: (Tenant, Int, AccountService, Database, AppConfiguration) {
        (tenant, cityNumber, accounts, database, configuration)
    }
}

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
            if cityNumber == 0 {
                let report = try await RegistryCSV.importFile(
                    Array(rotationRegistry.utf8),
                    tenantID: tenant.id,
                    latestStart: Day.today().adding(years: 1),
                    database: database
                )
                if !report.imported {
                    throw AdalError.invalidField(field: "demo registry", reason: "\(report.problems.prefix(3))")
                }
                // The school's office works at the registry's first school (its canteen's too).
                if let office = try await accounts.store.user(login: "school-admin", tenantID: tenant.id) {
                    try await SchoolStaff(database: database).assign(
                        userID: office.id,
                        schoolBIN: firstSchoolBIN,
                        tenantID: tenant.id
                    )
                }
            }
            // The services' demo data, each through the real engine and stores.
            let demoCity = DemoCity(
                tenant: tenant,
                cityNumber: cityNumber,
                accounts: accounts,
                database: database,
                configuration: configuration
            )
            try await DemoCompetitions.seed(demoCity)
            try await DemoBudget.seed(demoCity)
            try await DemoMeals.seed(demoCity)
        }
        return lines
    }

    /// The BIN of the registry's school `number`.
    static func schoolBIN(_ number: Int) -> String {
        NationalIdentifier.completing(String(format: "0%02d%08d", 90 + number % 10, 40_000 + number)) ?? ""
    }

    /// The registry's first school, whose canteen charges in the demo.
    static var firstSchoolBIN: String { schoolBIN(0) }

    /// A registry of 24 schools in four districts whose principals were appointed from 2015 to
    /// 2025: in 2026 some are past the 7-year limit, some reach it within the year, some have
    /// attestations due. Fixed dates, so seeding again changes nothing.
    static var rotationRegistry: String {
        let districts = ["Алматы", "Байқоңыр", "Есіл", "Сарыарқа"]
        var lines = [RegistryCSV.header.joined(separator: ",")]
        let startYear = 2026
        for number in 0..<24 {
            let bin = schoolBIN(number)
            guard let iin = demoIIN(seed: 500 + number)?.digits else { continue }
            let district = districts[number % districts.count]
            let years = [11, 9, 8, 7, 6, 5, 3, 1][number % 8]
            let appointed = String(format: "%04d-09-01", startYear - years)
            let attested = String(format: "%04d-05-15", startYear - (number % 5))
            lines.append(
                [
                    bin, "№\(number + 1) мектеп-лицей", district, "Астана", number % 6 == 5 ? "rural" : "urban",
                    "", iin, "Demo principal \(number + 1)", appointed, "", "appointment", attested,
                ].joined(separator: ",")
            )
        }
        return lines.joined(separator: "\n") + "\n"
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
