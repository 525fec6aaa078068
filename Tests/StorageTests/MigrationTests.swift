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

    @Test("0033 moves each integrated leaf's step onto the leaf, in every city")
    func leafStepsMoved() async throws {
        let migrations = try Migration.load(directory: TestCluster.migrationsDirectory)
        try await withEmptyDatabase { connection in
            _ = try await Migrator(migrations: migrations.filter { $0.version < 33 })
                .migrate(connection: connection, logger: logger)
            // Two cities with two leaves each, one step per leaf, written as the sequencer did;
            // the owner too is bound by row-level security, so each city's rows are written as it.
            let cities = [UUID(), UUID()]
            let instance = UUID()
            for (number, city) in cities.enumerated() {
                try await connection.query(
                    """
                    INSERT INTO tenants (id, slug, name_kk, name_ru, name_en)
                    VALUES (\(city), \("city-\(number)"), 'Қала', 'Город', 'City')
                    """,
                    logger: logger
                )
                try await connection.query("BEGIN", logger: logger)
                try await connection.query(
                    "SELECT set_config('app.tenant_id', \(city.uuidString), true)",
                    logger: logger
                )
                try await connection.query(
                    """
                    INSERT INTO audit_leaves (tenant_id, leaf_index, entry, leaf_hash)
                    SELECT \(city), i, '\\x01', sha256(int8send(i)) FROM generate_series(0, 1) AS i
                    """,
                    logger: logger
                )
                try await connection.query(
                    """
                    INSERT INTO audit_step_leaves (tenant_id, instance_id, sequence, leaf_index)
                    VALUES (\(city), \(instance), 1, 0), (\(city), \(instance), 2, 1)
                    """,
                    logger: logger
                )
                try await connection.query("COMMIT", logger: logger)
            }
            _ = try await Migrator(migrations: migrations).migrate(connection: connection, logger: logger)
            #expect(try await tableNames(connection).contains("audit_step_leaves") == false)
            for city in cities {
                try await connection.query("BEGIN", logger: logger)
                try await connection.query(
                    "SELECT set_config('app.tenant_id', \(city.uuidString), true)",
                    logger: logger
                )
                let rows = try await connection.query(
                    "SELECT leaf_index, instance_id, sequence FROM audit_leaves ORDER BY leaf_index",
                    logger: logger
                )
                var steps: [String] = []
                for try await (index, id, sequence) in rows.decode((Int64, UUID?, Int64?).self) {
                    steps.append("\(index) \(id == instance) \(sequence ?? 0)")
                }
                try await connection.query("COMMIT", logger: logger)
                #expect(steps == ["0 true 1", "1 true 2"])
            }
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
