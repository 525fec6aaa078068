import ArgumentParser
import Storage
import Web

/// `adal migrate`: applies pending migrations and exits.
struct Migrate: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Apply pending database migrations as the owner role, then exit.",
        discussion: """
            Each migrations/NNNN_name.sql runs once, in order, in its own transaction, and is \
            recorded with its SHA-256. A changed applied file is refused by name; a failing file \
            is rolled back and its line is named. Uses MIGRATION_DATABASE_URL, or the embedded PostgreSQL.
            """
    )

    @OptionGroup var common: CommonOptions

    func run() async throws {
        let configuration = try common.configuration()
        let logger = try common.logger()
        try await withPreparedDatabase(configuration, logger: logger) { _ in
            print("The database is up to date.")
        }
    }
}
