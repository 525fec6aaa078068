import ArgumentParser
import Core
import Foundation
import PrincipalRotation
import Storage

/// `adal rotation`: the registry of schools and principals for principal rotation.
struct RotationCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rotation",
        abstract: "The registry of schools and principals: import and export as CSV.",
        subcommands: [Import.self, Export.self]
    )

    struct Import: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Import a registry CSV; nothing is written unless every row is valid.",
            discussion: """
                The first line must be: \(RegistryCSV.header.joined(separator: ",")). \
                One row per appointment (left_on empty while current); a school with no principal on record \
                has the principal's columns empty; a row may name a school by BIN alone when it is described \
                on another row or already registered. Example: adal rotation import astana principals.csv
                """
        )

        @OptionGroup var common: CommonOptions
        @Argument(help: "The city's slug.") var city: String
        @Argument(help: "The CSV file (UTF-8).") var file: String
        @Option(help: "Months ahead an appointment may begin (the planning horizon).") var horizonMonths = 12

        func run() async throws {
            let configuration = try common.configuration()
            let logger = try common.logger()
            guard let data = FileManager.default.contents(atPath: file) else {
                throw ValidationError("cannot read \(file)")
            }
            let (city, horizon) = (city, horizonMonths)
            let report = try await withPreparedDatabase(configuration, logger: logger) { endpoints in
                try await endpoints.withOwner(logger: logger) { database in
                    let tenant = try await requireTenant(city, in: database)
                    return try await RegistryCSV.importFile(
                        Array(data),
                        tenantID: tenant.id,
                        latestStart: Day.today().adding(months: horizon),
                        database: database
                    )
                }
            }
            guard report.imported else {
                for problem in report.problems { print("\(file): \(problem)") }
                if report.problemCount > report.problems.count {
                    print("… and \(report.problemCount - report.problems.count) more")
                }
                throw CommandFailure("\(report.problemCount) problems; nothing imported")
            }
            print(
                "\(city): \(report.rows) rows imported — \(report.newSchools) new schools, \(report.newPrincipals) "
                    + "new principals, \(report.newAppointments) new and \(report.updatedAppointments) updated appointments"
            )
        }
    }

    struct Export: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Print a city's registry as CSV (the import format).")

        @OptionGroup var common: CommonOptions
        @Argument(help: "The city's slug.") var city: String

        func run() async throws {
            let configuration = try common.configuration()
            let logger = try common.logger()
            let city = city
            let text = try await withPreparedDatabase(configuration, logger: logger) { endpoints in
                try await endpoints.withOwner(logger: logger) { database in
                    let tenant = try await requireTenant(city, in: database)
                    return RegistryCSV.export(try await RegistryStore(database: database).load(tenantID: tenant.id))
                }
            }
            print(text, terminator: "")
        }
    }
}
