import Logging
import PostgresNIO

/// Applies migrations as the owner role: each pending file in its own transaction, recorded
/// with its SHA-256 in `schema_migrations`. Several processes may call it at once; an advisory
/// lock lets one work while the others wait.
public struct Migrator: Sendable {
    /// Key of the advisory lock taken while migrating (`adal` in ASCII).
    static let lockKey: Int64 = 0x6164_616c

    public let migrations: [Migration]

    public init(migrations: [Migration]) {
        self.migrations = migrations
    }

    /// Applies what is pending and returns the migrations applied now.
    @discardableResult
    public func migrate(connection: PostgresConnection, logger: Logger) async throws -> [Migration] {
        try await connection.query("SELECT pg_advisory_lock(\(Self.lockKey))", logger: logger)
        do {
            let applied = try await apply(connection: connection, logger: logger)
            try await connection.query("SELECT pg_advisory_unlock(\(Self.lockKey))", logger: logger)
            return applied
        } catch {
            _ = try? await connection.query("SELECT pg_advisory_unlock(\(Self.lockKey))", logger: logger)
            throw error
        }
    }

    /// Migrations in the folder not yet applied to the database; throws if an applied one changed.
    public func pending(connection: PostgresConnection, logger: Logger) async throws -> [Migration] {
        try await createTable(connection: connection, logger: logger)
        let recorded = try await appliedRecords(connection: connection, logger: logger)
        return try check(recorded: recorded)
    }

    /// Like ``pending(connection:logger:)`` but only reads, so the application role may call it.
    public func unapplied(connection: PostgresConnection, logger: Logger) async throws -> [Migration] {
        let exists =
            try await connection.query(
                "SELECT to_regclass('public.schema_migrations') IS NOT NULL",
                logger: logger
            ).collect().first?.decode(Bool.self) ?? false
        guard exists else { return migrations }
        return try check(recorded: try await appliedRecords(connection: connection, logger: logger))
    }

    private func apply(connection: PostgresConnection, logger: Logger) async throws -> [Migration] {
        let pending = try await pending(connection: connection, logger: logger)
        for migration in pending {
            try await run(migration, connection: connection, logger: logger)
            logger.info("applied migration", metadata: ["file": "\(migration.fileName)"])
        }
        return pending
    }

    private func createTable(connection: PostgresConnection, logger: Logger) async throws {
        try await connection.query(
            """
            CREATE TABLE IF NOT EXISTS schema_migrations (
                version integer PRIMARY KEY,
                name text NOT NULL,
                sha256 text NOT NULL,
                applied_at timestamptz NOT NULL DEFAULT now()
            )
            """,
            logger: logger
        )
    }

    private func appliedRecords(
        connection: PostgresConnection,
        logger: Logger
    ) async throws
        -> [(version: Int, name: String, sha256: String)]
    {
        var records: [(version: Int, name: String, sha256: String)] = []
        let rows = try await connection.query(
            "SELECT version, name, sha256 FROM schema_migrations ORDER BY version",
            logger: logger
        )
        for try await (version, name, sha256) in rows.decode((Int, String, String).self) {
            records.append((version, name, sha256))
        }
        return records
    }

    /// Compares what the database recorded with the files and returns the files still to apply.
    func check(recorded: [(version: Int, name: String, sha256: String)]) throws(MigrationError) -> [Migration] {
        let byVersion = Dictionary(uniqueKeysWithValues: migrations.map { ($0.version, $0) })
        for record in recorded {
            guard let file = byVersion[record.version] else {
                throw .unknownApplied(version: record.version, name: record.name)
            }
            guard file.sha256 == record.sha256 else { throw .changedAfterApply(file: file.fileName) }
        }
        let done = Set(recorded.map(\.version))
        return migrations.filter { !done.contains($0.version) }
    }

    private func run(_ migration: Migration, connection: PostgresConnection, logger: Logger) async throws {
        let script = SQLScript(migration.sql)
        try await connection.query("BEGIN", logger: logger)
        var current: SQLScript.Statement? = nil
        do {
            for statement in script.statements {
                current = statement
                try await connection.query(PostgresQuery(unsafeSQL: statement.text), logger: logger)
            }
            current = nil
            try await connection.query(
                """
                INSERT INTO schema_migrations (version, name, sha256)
                VALUES (\(migration.version), \(migration.name), \(migration.sha256))
                """,
                logger: logger
            )
            try await connection.query("COMMIT", logger: logger)
        } catch {
            _ = try? await connection.query("ROLLBACK", logger: logger)
            let serverInfo = (error as? PSQLError)?.serverInfo
            let message = serverInfo?[.message] ?? String(describing: error)
            var line = current?.line ?? 1
            if let statement = current, let position = serverInfo?[.position].flatMap(Int.init) {
                line = SQLScript.line(ofPosition: position, in: statement)
            }
            throw MigrationError.failed(file: migration.fileName, line: line, message: message)
        }
    }
}
