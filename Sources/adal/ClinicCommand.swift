import ArgumentParser
import Core
import Foundation
import SickLeave
import Storage

/// `adal clinic`: the clinics that issue sick-leave certificates in a city, and their keys.
struct ClinicCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "clinic",
        abstract: "Clinics that issue sick-leave certificates, and their signing keys.",
        subcommands: [Add.self, AddDoctor.self, RemoveKey.self]
    )

    struct Add: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Register a clinic in a city; its doctors can then open certificates.",
            discussion: "Example: adal clinic add astana --bin 940140000385 --name 'Қалалық емхана №4'"
        )

        @OptionGroup var common: CommonOptions
        @Argument(help: "The city's slug.") var city: String
        @Option(help: "The clinic's BIN.") var bin: String
        @Option(help: "The clinic's name, as certificates show it.") var name: String

        func run() async throws {
            let configuration = try common.configuration()
            let logger = try common.logger()
            let (city, bin, name) = (city, bin, name)
            try await withPreparedDatabase(configuration, logger: logger) { endpoints in
                let clinic = try await endpoints.withOwner(logger: logger) { database in
                    let tenant = try await requireTenant(city, in: database)
                    return try await database.withTenant(tenant.id) { connection in
                        try await Clinic.register(
                            bin: bin,
                            name: name,
                            tenantID: tenant.id,
                            on: connection,
                            logger: logger
                        )
                    }
                }
                print("\(city): clinic \(clinic.bin) \(clinic.name) registered")
            }
        }
    }

    struct AddDoctor: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "add-doctor",
            abstract: "List an account among a clinic's doctors: they may then sign its certificates.",
            discussion: "Example: adal clinic add-doctor astana --bin 940140000385 --login clinic-doctor"
        )

        @OptionGroup var common: CommonOptions
        @Argument(help: "The city's slug.") var city: String
        @Option(help: "The clinic's BIN.") var bin: String
        @Option(help: "The doctor's login (an account with the clinic_doctor role).") var login: String

        func run() async throws {
            let configuration = try common.configuration()
            let logger = try common.logger()
            let (city, bin, login) = (city, bin, login)
            try await withPreparedDatabase(configuration, logger: logger) { endpoints in
                try await endpoints.withOwner(logger: logger) { database in
                    let tenant = try await requireTenant(city, in: database)
                    guard
                        let user = try await PostgresAccountStore(database: database).user(
                            login: login,
                            tenantID: tenant.id
                        )
                    else { throw CommandFailure("\(city) has no account \(login)") }
                    guard user.roles.contains(.clinicDoctor) else {
                        throw CommandFailure("\(login) does not have the clinic_doctor role")
                    }
                    try await database.withTenant(tenant.id) { connection in
                        guard let clinic = try await Clinic.find(bin: bin, tenantID: tenant.id, on: connection, logger)
                        else { throw CommandFailure("\(city) has no clinic \(bin)") }
                        try await clinic.addStaff(userID: user.id, tenantID: tenant.id, on: connection, logger: logger)
                    }
                }
                print("\(city): \(login) signs for clinic \(bin)")
            }
        }
    }

    struct RemoveKey: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "remove-key",
            abstract: "Withdraw a clinic signing key (a leaked one): its tokens stop verifying.",
            discussion: """
                Online checks refuse the key at once; offline verifiers at their next download of the \
                trust list (made at most every 2 minutes). The clinic's next certificate gets a new key.
                """
        )

        @OptionGroup var common: CommonOptions
        @Argument(help: "The city's slug.") var city: String
        @Option(help: "The key id, in hexadecimal (16 digits).") var key: String

        func run() async throws {
            let digits = Array(key.utf8)
            guard digits.count == 16,
                let keyID = Optional(
                    stride(from: 0, to: 16, by: 2).compactMap({
                        UInt8(String(decoding: digits[$0...$0 + 1], as: UTF8.self), radix: 16)
                    })
                ),
                keyID.count == 8
            else { throw ValidationError("--key must be 16 hexadecimal digits") }
            let configuration = try common.configuration()
            let logger = try common.logger()
            let city = city
            try await withPreparedDatabase(configuration, logger: logger) { endpoints in
                let removed = try await endpoints.withOwner(logger: logger) { database in
                    let tenant = try await requireTenant(city, in: database)
                    return try await ClinicKeys.remove(keyID: keyID, tenantID: tenant.id, database: database)
                }
                guard removed else { throw CommandFailure("\(city) has no trusted key \(key)") }
                print("\(city): key \(key) removed from the trust list")
            }
        }
    }
}
