import ArgumentParser
import Foundation
import MealPayments
import Storage

/// `adal ledger`: the school-meal ledger.
struct LedgerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ledger",
        abstract: "The school-meal ledger.",
        subcommands: [Check.self]
    )

    struct Check: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Prove that every stored balance equals its posted transfers and that money is conserved.",
            discussion: "Exit 0 when it holds for every city given (all cities when none is), 1 otherwise."
        )

        @OptionGroup var common: CommonOptions
        @Argument(help: "Cities' slugs; all when none.") var cities: [String] = []

        func run() async throws {
            let configuration = try common.configuration()
            let logger = try common.logger()
            let slugs = cities
            let failed = try await withPreparedDatabase(configuration, logger: logger) { endpoints in
                try await endpoints.withOwner(logger: logger) { database in
                    let all = try await PostgresTenantStore(database: database).tenants()
                    let chosen =
                        slugs.isEmpty ? all : try await slugs.asyncMap { try await requireTenant($0, in: database) }
                    var failed = 0
                    for tenant in chosen {
                        let check = try await LedgerCheck.run(tenantID: tenant.id, database: database)
                        print(
                            "\(tenant.slug): \(check.accounts) accounts, \(check.transfers) posted transfers, "
                                + "sum over all accounts \(check.total) tiyn: \(check.passed ? "ok" : "FAILED")"
                        )
                        for mismatch in check.mismatched {
                            print(
                                "  account \(mismatch.account): stored \(mismatch.stored), transfers say \(mismatch.computed)"
                            )
                        }
                        if !check.passed { failed += 1 }
                    }
                    return failed
                }
            }
            if failed > 0 { throw CommandFailure("\(failed) ledgers do not balance") }
        }
    }
}

extension Array {
    func asyncMap<T>(_ transform: (Element) async throws -> T) async rethrows -> [T] {
        var result: [T] = []
        for element in self { result.append(try await transform(element)) }
        return result
    }
}
