import Foundation
import Logging
import PostgresNIO

/// An embedded cluster that is up, with the connection settings of its roles.
public struct RunningCluster: Sendable {
    public let port: Int
    let credentials: ClusterCredentials
    let binaries: PostgresBinaries
    let runner: CommandRunner
    let clusterDirectory: String
    /// False when another process started the cluster; then it is left running on stop.
    public let startedHere: Bool

    /// The cluster's Unix socket, when it listens on one (a cluster started by this version,
    /// in a folder whose path fits a socket address); nil for loopback TCP only.
    public var socketPath: String? {
        let path = EmbeddedPostgres.socketFile(in: clusterDirectory, port: port)
        return FileManager.default.fileExists(atPath: path) ? path : nil
    }

    /// Connection settings for `role` on `database`: over the cluster's Unix socket when it has
    /// one (no TCP/IP stack for every statement's round trip), otherwise over loopback.
    public func configuration(
        role: DatabaseRole,
        database: String = EmbeddedPostgres.databaseName
    )
        -> PostgresClient.Configuration
    {
        let password = password(of: role)
        if let socketPath {
            return PostgresClient.Configuration(
                unixSocketPath: socketPath,
                username: role.name,
                password: password,
                database: database
            )
        }
        return PostgresClient.Configuration(
            host: "127.0.0.1",
            port: port,
            username: role.name,
            password: password,
            database: database,
            tls: .disable
        )
    }

    /// The settings of ``configuration(role:database:)`` for a single connection.
    public func connectionConfiguration(
        role: DatabaseRole,
        database: String = EmbeddedPostgres.databaseName
    ) -> PostgresConnection.Configuration {
        let pooled = configuration(role: role, database: database)
        guard let socket = pooled.unixSocketPath else {
            return .init(
                host: "127.0.0.1",
                port: port,
                username: pooled.username,
                password: pooled.password,
                database: database,
                tls: .disable
            )
        }
        return .init(unixSocketPath: socket, username: pooled.username, password: pooled.password, database: database)
    }

    private func password(of role: DatabaseRole) -> String {
        switch role {
        case .superuser: credentials.superuserPassword
        case .owner: credentials.ownerPassword
        case .application: credentials.applicationPassword
        }
    }

    /// Creates Adal's owner and application roles and its database, where they are missing.
    func ensureRolesAndDatabase(logger: Logger) async throws {
        try await withSuperuserConnection(database: "postgres", logger: logger) { connection in
            try await DatabaseRole.ensureRoles(
                on: connection,
                ownerPassword: credentials.ownerPassword,
                applicationPassword: credentials.applicationPassword,
                logger: logger
            )
            let exists = try await connection.query(
                "SELECT 1 FROM pg_database WHERE datname = \(EmbeddedPostgres.databaseName)",
                logger: logger
            ).collect()
            if exists.isEmpty {
                try await connection.query(
                    PostgresQuery(unsafeSQL: "CREATE DATABASE \(EmbeddedPostgres.databaseName) OWNER adal_owner"),
                    logger: logger
                )
            }
        }
    }

    /// Runs `body` on a single superuser connection to `database`, closing it afterwards.
    public func withSuperuserConnection<Result: Sendable>(
        database: String,
        logger: Logger,
        _ body: (PostgresConnection) async throws -> Result
    ) async throws -> Result {
        let connection = try await PostgresConnection.connect(
            on: DatabaseLoops.group.any(),
            configuration: connectionConfiguration(role: .superuser, database: database),
            id: 1,
            logger: logger
        )
        do {
            let result = try await body(connection)
            try await connection.close()
            return result
        } catch {
            try? await connection.close()
            throw error
        }
    }

    /// Stops the cluster if this process started it (fast shutdown: open sessions are ended).
    public func stop(logger: Logger) {
        guard startedHere else { return }
        do {
            let result = try runner.run(
                binaries.pgCtl,
                ["stop", "-D", clusterDirectory, "-m", "fast", "-w", "-t", "30"]
            )
            if result.status == 0 {
                logger.info("stopped embedded PostgreSQL")
            } else {
                logger.error("pg_ctl stop failed", metadata: ["output": "\(result.text)"])
            }
        } catch {
            logger.error("pg_ctl stop failed", metadata: ["error": "\(error)"])
        }
    }
}

/// The database roles Adal uses. The owner runs migrations and owns every table; the
/// application role, which the server connects as, owns nothing and cannot bypass row-level
/// security.
public enum DatabaseRole: Sendable {
    case superuser
    case owner
    case application

    public var name: String {
        switch self {
        case .superuser: "postgres"
        case .owner: "adal_owner"
        case .application: "adal_app"
        }
    }

    /// Creates the owner and application roles if missing and (re)sets their passwords.
    /// The passwords are hex strings generated here, so inlining them in DDL is safe.
    static func ensureRoles(
        on connection: PostgresConnection,
        ownerPassword: String,
        applicationPassword: String,
        logger: Logger
    ) async throws {
        for (role, password) in [(DatabaseRole.owner, ownerPassword), (.application, applicationPassword)] {
            precondition(password.allSatisfy(\.isHexDigit), "generated passwords are hex")
            let rows = try await connection.query("SELECT 1 FROM pg_roles WHERE rolname = \(role.name)", logger: logger)
                .collect()
            let verb = rows.isEmpty ? "CREATE" : "ALTER"
            try await connection.query(
                PostgresQuery(
                    unsafeSQL:
                        "\(verb) ROLE \(role.name) LOGIN PASSWORD '\(password)' NOSUPERUSER NOCREATEDB NOCREATEROLE NOBYPASSRLS"
                ),
                logger: logger
            )
        }
    }
}
