import Foundation
import Logging
import PostgresNIO
import TestSupport
import Testing

@testable import Storage

@Suite("Migrations")
struct MigrationTests {
    let logger = TestCluster.logger

    /// Runs `body` with a single owner connection to a new database that has no tables yet.
    func withEmptyDatabase(_ body: @escaping @Sendable (PostgresConnection) async throws -> Void) async throws {
        let cluster = try await TestCluster.shared.cluster()
        let name = try await TestCluster.shared.emptyDatabaseName()
        try await PostgresClient.using(cluster.configuration(role: .owner, database: name), logger: logger) { client in
            try await client.withConnection { connection in try await body(connection) }
        }
    }

    func tableNames(_ connection: PostgresConnection) async throws -> Set<String> {
        var names: Set<String> = []
        let rows = try await connection.query(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public'",
            logger: logger
        )
        for try await name in rows.decode(String.self) { names.insert(name) }
        return names
    }

    @Test("the project's migrations apply to an empty database, each recorded with its SHA-256")
    func fromEmpty() async throws {
        let migrations = try Migration.load(directory: TestCluster.migrationsDirectory)
        #expect(!migrations.isEmpty)
        try await withEmptyDatabase { connection in
            let applied = try await Migrator(migrations: migrations).migrate(connection: connection, logger: logger)
            #expect(applied.map(\.fileName) == migrations.map(\.fileName))
            let tables = try await tableNames(connection)
            #expect(
                tables.isSuperset(of: ["tenants", "users", "user_roles", "sessions", "api_tokens", "schema_migrations"])
            )
            let rows = try await connection.query(
                "SELECT version, sha256 FROM schema_migrations ORDER BY version",
                logger: logger
            )
            var recorded: [(Int, String)] = []
            for try await row in rows.decode((Int, String).self) { recorded.append(row) }
            #expect(recorded.map(\.0) == migrations.map(\.version))
            #expect(recorded.map(\.1) == migrations.map(\.sha256))
            // A second run finds nothing to do.
            let again = try await Migrator(migrations: migrations).migrate(connection: connection, logger: logger)
            #expect(again.isEmpty)
        }
    }

    @Test("a migration whose file changed after it was applied is refused, naming the file")
    func changedMigrationRefused() async throws {
        let original = try Migration(fileName: "0001_first.sql", contents: Data("CREATE TABLE first (id int);".utf8))
        let edited = try Migration(fileName: "0001_first.sql", contents: Data("CREATE TABLE first (id bigint);".utf8))
        try await withEmptyDatabase { connection in
            try await Migrator(migrations: [original]).migrate(connection: connection, logger: logger)
            await #expect(throws: MigrationError.changedAfterApply(file: "0001_first.sql")) {
                try await Migrator(migrations: [edited]).migrate(connection: connection, logger: logger)
            }
        }
    }

    @Test("a failing migration leaves the database as it was and names the statement's line")
    func failedMigrationRollsBack() async throws {
        let good = try Migration(fileName: "0001_good.sql", contents: Data("CREATE TABLE kept (id int);".utf8))
        let bad = try Migration(
            fileName: "0002_bad.sql",
            contents: Data(
                "CREATE TABLE half (id int);\n\nINSERT INTO half\n  VALUES (1);\nSELECT * FROM\n  missing_table;\n".utf8
            )
        )
        try await withEmptyDatabase { connection in
            do {
                try await Migrator(migrations: [good, bad]).migrate(connection: connection, logger: logger)
                Issue.record("the bad migration was accepted")
            } catch let error as MigrationError {
                #expect(
                    error
                        == .failed(file: "0002_bad.sql", line: 6, message: "relation \"missing_table\" does not exist")
                )
                #expect(error.description.hasPrefix("0002_bad.sql:6:"))
            }
            let tables = try await tableNames(connection)
            #expect(tables.contains("kept"))
            #expect(!tables.contains("half"))
            let versions = try await connection.query("SELECT version FROM schema_migrations", logger: logger).collect()
            #expect(versions.count == 1)
        }
    }

    @Test("a database with a migration this build lacks is refused")
    func unknownAppliedMigration() async throws {
        let first = try Migration(fileName: "0001_first.sql", contents: Data("CREATE TABLE a (id int);".utf8))
        let second = try Migration(fileName: "0002_second.sql", contents: Data("CREATE TABLE b (id int);".utf8))
        try await withEmptyDatabase { connection in
            try await Migrator(migrations: [first, second]).migrate(connection: connection, logger: logger)
            await #expect(throws: MigrationError.unknownApplied(version: 2, name: "second")) {
                try await Migrator(migrations: [first]).migrate(connection: connection, logger: logger)
            }
        }
    }

    @Test("badly named files are refused with their name")
    func badFileNames() throws {
        #expect(throws: MigrationError.badFileName("1_short.sql")) {
            try Migration(fileName: "1_short.sql", contents: Data())
        }
        #expect(throws: MigrationError.badFileName("0001.sql")) {
            try Migration(fileName: "0001.sql", contents: Data())
        }
    }
}
