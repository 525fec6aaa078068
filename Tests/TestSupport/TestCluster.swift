import Foundation
import Logging
import PostgresNIO
import Storage

#if canImport(Glibc)
import Glibc
#endif

/// The one embedded PostgreSQL cluster of a test run, started through the same launcher as
/// `adal`, with a template database migrated once. Every test gets its own database cloned
/// from the template, so tests are isolated and can run in parallel.
public actor TestCluster {
    public static let shared = TestCluster()

    static let templateName = "adal_template"
    public static let logger: Logger = {
        var logger = Logger(label: "adal.test")
        logger.logLevel = .warning
        return logger
    }()

    /// The repository's root, found from this file's path.
    public static let repositoryRoot: String = {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().path
    }()

    public static var migrationsDirectory: String { repositoryRoot + "/migrations" }

    private var boot: Task<(RunningCluster, PostgresConnection), any Error>?
    private var counter = 0

    /// The running cluster, started on first use and stopped when the test process exits.
    public func cluster() async throws -> RunningCluster {
        try await started().0
    }

    private func started() async throws -> (RunningCluster, PostgresConnection) {
        if let boot { return try await boot.value }
        let task = Task { try await Self.start() }
        boot = task
        return try await task.value
    }

    private static func start() async throws -> (RunningCluster, PostgresConnection) {
        removeLeftoversOfEarlierRuns()
        let directory = dataDirectory(pid: getpid())
        let cluster = try await EmbeddedPostgres(dataDirectory: directory, unsafeFastMode: true).start(logger: logger)
        atexit {
            let directory = TestCluster.dataDirectory(pid: getpid())
            EmbeddedPostgres.stopImmediately(dataDirectory: directory)
            try? FileManager.default.removeItem(atPath: directory)
        }
        let connection = try await PostgresConnection.connect(
            configuration: cluster.connectionConfiguration(role: .superuser, database: "postgres"),
            id: 1,
            logger: logger
        )
        try await connection.query(
            PostgresQuery(unsafeSQL: "CREATE DATABASE \(templateName) OWNER adal_owner"),
            logger: logger
        )
        let migrations = try Migration.load(directory: migrationsDirectory)
        try await PostgresClient.using(cluster.configuration(role: .owner, database: templateName), logger: logger) {
            client in
            try await client.withConnection { owner in
                try await Migrator(migrations: migrations).migrate(connection: owner, logger: logger)
            }
        }
        return (cluster, connection)
    }

    static func dataDirectory(pid: Int32) -> String {
        "/tmp/adal-test-\(pid)"
    }

    /// Stops clusters whose test process died without its exit hook.
    private static func removeLeftoversOfEarlierRuns() {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: "/tmp")) ?? []
        for name in names where name.hasPrefix("adal-test-") {
            guard let pid = Int32(name.dropFirst("adal-test-".count)), kill(pid, 0) != 0 else { continue }
            EmbeddedPostgres.stopImmediately(dataDirectory: "/tmp/" + name)
            try? FileManager.default.removeItem(atPath: "/tmp/" + name)
        }
    }

    /// Creates a new database cloned from the migrated template and returns its name.
    public func freshDatabaseName() async throws -> String {
        let (_, connection) = try await started()
        counter += 1
        let name = "test_\(getpid())_\(counter)"
        try await connection.query(
            PostgresQuery(unsafeSQL: "CREATE DATABASE \(name) TEMPLATE \(Self.templateName) OWNER adal_owner"),
            logger: Self.logger
        )
        return name
    }

    /// Creates an empty database (no migrations) and returns its name.
    public func emptyDatabaseName() async throws -> String {
        let (_, connection) = try await started()
        counter += 1
        let name = "empty_\(getpid())_\(counter)"
        try await connection.query(
            PostgresQuery(unsafeSQL: "CREATE DATABASE \(name) OWNER adal_owner"),
            logger: Self.logger
        )
        return name
    }
}
