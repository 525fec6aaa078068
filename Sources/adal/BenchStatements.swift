import Foundation
import Logging
import PostgresNIO
import Storage

/// PostgreSQL's own account of where a benchmark's database time went (`pg_stat_statements`,
/// statements inside functions included): per statement, its calls and mean time, lock waits
/// and all. Only for a bench's throw-away cluster, which is restarted to load it.
enum BenchStatements {
    /// Restarts the bench's embedded cluster with the extension loaded, and lets the owner role
    /// read every role's statements and reset the counts; the endpoints of the restarted cluster.
    static func load(
        into endpoints: DatabaseEndpoints,
        directory: String,
        logger: Logger
    ) async throws
        -> DatabaseEndpoints
    {
        guard let cluster = endpoints.cluster else { return endpoints }
        try await cluster.withSuperuserConnection(database: "postgres", logger: logger) { connection in
            try await connection.query(
                "ALTER SYSTEM SET shared_preload_libraries = 'pg_stat_statements'",
                logger: logger
            )
        }
        let restarted = try await BenchEnvironment.restart(endpoints, directory: directory)
        guard let started = restarted.cluster else { return restarted }
        try await started.withSuperuserConnection(database: EmbeddedPostgres.databaseName, logger: logger) {
            connection in
            // Known only once the library is loaded; read on reload.
            try await connection.query("ALTER SYSTEM SET pg_stat_statements.track = 'all'", logger: logger)
            try await connection.query("SELECT pg_reload_conf()", logger: logger)
            try await connection.query("CREATE EXTENSION IF NOT EXISTS pg_stat_statements", logger: logger)
            try await connection.query("GRANT pg_read_all_stats TO adal_owner", logger: logger)
            try await connection.query(
                "GRANT EXECUTE ON FUNCTION pg_stat_statements_reset TO adal_owner",
                logger: logger
            )
        }
        return restarted
    }

    /// Forgets what was counted so far (the set-up's statements).
    static func reset(_ owner: Database) async throws {
        try await owner.withConnection { connection in
            try await connection.run("SELECT pg_stat_statements_reset()", logger: owner.logger)
        }
    }

    /// The `count` statements that took the most time since the reset, one line each.
    static func top(_ owner: Database, count: Int = 15) async throws -> [String] {
        try await owner.withConnection { connection in
            var lines = ["statements by total time (calls, total, mean, text):"]
            for try await (calls, total, text) in try await connection.query(
                """
                SELECT calls, total_exec_time + total_plan_time,
                    left(regexp_replace(query, '\\s+', ' ', 'g'), 100)
                FROM pg_stat_statements ORDER BY 2 DESC LIMIT \(Int32(count))
                """,
                logger: owner.logger
            ).decode((Int64, Double, String).self) {
                lines.append(
                    String(format: "  %8lld %9.1f ms %7.3f ms  ", calls, total, total / Double(max(calls, 1))) + text
                )
            }
            return lines
        }
    }
}
