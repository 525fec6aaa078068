import Foundation
import Logging
import PostgresNIO
import Storage

/// A fresh database of its own for one test, reachable as the owner and as the application role.
public struct TestDatabases: Sendable {
    public let name: String
    public let cluster: RunningCluster
    /// Connected as the owner role (migrations, tenant creation).
    public let owner: Database
    /// Connected as the application role, as the server is.
    public let application: Database

    public var applicationConfiguration: PostgresClient.Configuration {
        cluster.configuration(role: .application, database: name)
    }

    public var ownerConfiguration: PostgresClient.Configuration {
        cluster.configuration(role: .owner, database: name)
    }

    /// Runs `body` with a new migrated database; the clients are shut down afterwards.
    public static func with<Result: Sendable>(
        _ body: @escaping @Sendable (TestDatabases) async throws -> Result
    ) async throws -> Result {
        let cluster = try await TestCluster.shared.cluster()
        let name = try await TestCluster.shared.freshDatabaseName()
        let logger = TestCluster.logger
        return try await PostgresClient.using(cluster.configuration(role: .owner, database: name), logger: logger) {
            ownerClient in
            try await PostgresClient.using(cluster.configuration(role: .application, database: name), logger: logger) {
                applicationClient in
                try await body(
                    TestDatabases(
                        name: name, cluster: cluster, owner: Database(client: ownerClient, logger: logger),
                        application: Database(client: applicationClient, logger: logger)))
            }
        }
    }
}
