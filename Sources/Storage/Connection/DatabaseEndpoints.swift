import Foundation
import Logging
import PostgresNIO

/// Where the database is and how to reach it as each role.
///
/// - With `DATABASE_URL`, the server connects to that server as the application role; migrations
///   need `MIGRATION_DATABASE_URL` (the owner role). Nothing is started.
/// - Without it, the embedded cluster under the data folder is started and both roles' settings
///   come from it.
public struct DatabaseEndpoints: Sendable {
    /// Settings the server uses: the application role, which cannot bypass row-level security.
    public var application: PostgresClient.Configuration
    /// Settings for migrations and tenant administration: the owner role. Nil when not configured.
    public var owner: PostgresClient.Configuration?
    /// The embedded cluster, when one was started or reused.
    public var cluster: RunningCluster?

    public init(
        application: PostgresClient.Configuration,
        owner: PostgresClient.Configuration?,
        cluster: RunningCluster?
    ) {
        self.application = application
        self.owner = owner
        self.cluster = cluster
    }

    /// Runs `body` with a database handle on the owner role, for administration commands.
    public func withOwner<Result: Sendable>(
        logger: Logger,
        _ body: @escaping @Sendable (Database) async throws -> Result
    ) async throws -> Result {
        guard let owner else { throw MissingOwnerRole() }
        return try await PostgresClient.using(owner, logger: logger) { client in
            try await body(Database(client: client, logger: logger))
        }
    }

    /// Resolves the endpoints from the configuration, starting the embedded cluster if needed.
    public static func resolve(
        databaseURL: String?,
        migrationDatabaseURL: String?,
        dataDirectory: String,
        logger: Logger
    ) async throws -> DatabaseEndpoints {
        if let databaseURL, !databaseURL.isEmpty {
            let application = try DatabaseURL.parse(databaseURL, variable: "DATABASE_URL")
            let owner = try migrationDatabaseURL.flatMap {
                $0.isEmpty ? nil : try DatabaseURL.parse($0, variable: "MIGRATION_DATABASE_URL")
            }
            return DatabaseEndpoints(application: application, owner: owner, cluster: nil)
        }
        let cluster = try await EmbeddedPostgres(dataDirectory: dataDirectory).start(logger: logger)
        return DatabaseEndpoints(
            application: cluster.configuration(role: .application),
            owner: cluster.configuration(role: .owner),
            cluster: cluster
        )
    }
}

/// Parses `postgres://user:password@host:port/database?sslmode=…` into client settings.
public enum DatabaseURL {
    public static func parse(_ text: String, variable: String) throws -> PostgresClient.Configuration {
        guard let components = URLComponents(string: text),
            ["postgres", "postgresql"].contains(components.scheme ?? ""),
            let host = components.host, !host.isEmpty,
            let user = components.user, !user.isEmpty
        else {
            throw DatabaseURLError(
                variable: variable,
                reason: "expected postgres://USER:PASSWORD@HOST:PORT/DATABASE"
            )
        }
        let database = String(components.path.drop(while: { $0 == "/" }))
        let sslMode = components.queryItems?.first(where: { $0.name == "sslmode" })?.value ?? "prefer"
        let tls: PostgresClient.Configuration.TLS
        switch sslMode {
        case "disable": tls = .disable
        case "prefer", "allow": tls = .prefer(.makeClientConfiguration())
        case "require", "verify-ca", "verify-full": tls = .require(.makeClientConfiguration())
        default: throw DatabaseURLError(variable: variable, reason: "unknown sslmode '\(sslMode)'")
        }
        var configuration = PostgresClient.Configuration(
            host: host,
            port: components.port ?? 5432,
            username: user.removingPercentEncoding ?? user,
            password: components.password?.removingPercentEncoding,
            database: database.isEmpty ? nil : database,
            tls: tls
        )
        configuration.options.connectTimeout = .seconds(5)
        return configuration
    }
}

/// A malformed database URL. The URL itself is never repeated: it may hold a password.
public struct DatabaseURLError: Error, CustomStringConvertible {
    public var variable: String
    public var reason: String
    public var description: String { "\(variable) is not a usable PostgreSQL URL: \(reason)" }
}

/// An administration command needs the owner role, which was not configured.
public struct MissingOwnerRole: Error, CustomStringConvertible {
    public var description: String {
        "This command needs the database owner role: set MIGRATION_DATABASE_URL (or unset DATABASE_URL to use the embedded PostgreSQL)."
    }
}
