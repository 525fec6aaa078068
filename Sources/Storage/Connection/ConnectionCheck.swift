import Foundation
import Logging
import PostgresNIO

/// Start-up checks on a running client: that the database answers within a bound, and that
/// the role the server uses cannot see past row-level security.
public enum ConnectionCheck {
    /// How long start-up waits for the database before giving up with a clear error.
    public static let startupTimeout: Duration = .seconds(10)

    /// Waits until `client` (already running) answers a query, or fails within `timeout`
    /// (``startupTimeout`` unless given) with ``DatabaseUnreachable``.
    public static func requireReachable(
        _ client: PostgresClient,
        configuration: PostgresClient.Configuration,
        timeout: Duration = startupTimeout,
        logger: Logger
    ) async throws {
        let target =
            configuration.host.map { "\($0):\(configuration.port ?? 5432)" } ?? configuration.unixSocketPath
            ?? "the configured server"
        let answered = try await withThrowingTaskGroup(of: Bool.self) { group in
            group.addTask {
                do {
                    try await client.query("SELECT 1", logger: logger)
                    return true
                } catch {
                    throw DatabaseUnreachable(target: target, reason: Self.reason(error))
                }
            }
            group.addTask {
                try await Task.sleep(for: timeout)
                return false
            }
            defer { group.cancelAll() }
            return try await group.next() ?? false
        }
        guard answered else { throw DatabaseUnreachable(target: target, reason: "no answer within \(timeout)") }
    }

    /// Refuses a role that is superuser, can bypass row-level security, or owns tables.
    public static func requireUnprivileged(_ connection: PostgresConnection, logger: Logger) async throws {
        let rows = try await connection.query(
            """
            SELECT r.rolname, r.rolsuper, r.rolbypassrls,
                   (SELECT count(*) FROM pg_class c WHERE c.relowner = r.oid AND c.relkind IN ('r', 'p'))
            FROM pg_roles r WHERE r.rolname = current_user
            """,
            logger: logger
        )
        for try await (name, superuser, bypass, owned) in rows.decode((String, Bool, Bool, Int).self) {
            if superuser || bypass || owned > 0 {
                throw PrivilegedApplicationRole(role: name)
            }
        }
    }

    static func reason(_ error: any Error) -> String {
        if let error = error as? PSQLError {
            if let message = error.serverInfo?[.message] { return message }
            if let underlying = error.underlying { return String(describing: underlying) }
            return error.code.description
        }
        return String(describing: error)
    }
}

/// The database could not be reached at start-up.
public struct DatabaseUnreachable: Error, CustomStringConvertible {
    public var target: String
    public var reason: String
    public var description: String { "Cannot reach the database at \(target): \(reason)." }
}

/// The server's role could see every tenant's rows.
public struct PrivilegedApplicationRole: Error, CustomStringConvertible {
    public var role: String
    public var description: String {
        "The database role '\(role)' is a superuser, can bypass row-level security, or owns tables; the server must connect as a role that cannot (see deploy/setup.sql)."
    }
}

extension PostgresClient {
    /// Runs `body` while the client's background work runs, then shuts the client down.
    /// For commands (migrate, tenant create) that use a client briefly.
    public static func using<Result: Sendable>(
        _ configuration: PostgresClient.Configuration,
        logger: Logger,
        _ body: @escaping @Sendable (PostgresClient) async throws -> Result
    ) async throws -> Result {
        let client = PostgresClient.onDatabaseLoops(configuration, logger: logger)
        return try await withThrowingTaskGroup(of: Result?.self) { group in
            group.addTask {
                await client.run()
                return nil
            }
            defer { group.cancelAll() }
            try await ConnectionCheck.requireReachable(client, configuration: configuration, logger: logger)
            return try await body(client)
        }
    }
}
