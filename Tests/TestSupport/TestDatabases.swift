import Core
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

    /// A `DATABASE_URL` for `role` on this database over loopback TCP (what a separate server
    /// process, or a database that is not embedded, is given).
    public func url(_ role: DatabaseRole) -> String {
        let configuration = cluster.configuration(role: role, database: name)
        return "postgres://\(configuration.username):\(configuration.password ?? "")@127.0.0.1:\(cluster.port)/\(name)"
            + "?sslmode=disable"
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
        return try await usingClient(cluster.configuration(role: .owner, database: name), logger: logger) {
            ownerClient in
            try await usingClient(cluster.configuration(role: .application, database: name), logger: logger) {
                applicationClient in
                try await body(
                    TestDatabases(
                        name: name,
                        cluster: cluster,
                        // The whole suite shares two cores and one PostgreSQL: a test waits up
                        // to 30 s for a pooled connection (production waits 5 s).
                        owner: Database(client: ownerClient, logger: logger, leaseTimeout: .seconds(30)),
                        application: Database(client: applicationClient, logger: logger, leaseTimeout: .seconds(30))
                    )
                )
            }
        }
    }
}

extension TestDatabases {
    /// How long a test's pools may take to close once it is done.
    static let closeWait: Duration = .seconds(30)

    /// How long a test waits for its new database to answer. Production start-up gives up after
    /// 10 s; here every suite starts at once on two cores and one PostgreSQL, each test making
    /// its database and opening its pools (each connection a SCRAM handshake on the database's
    /// event loop), and a clean clone's run once had 18 tests of its first second give up at
    /// 10 s, 20 s into the run, though the cluster was up.
    static let reachWait: Duration = .seconds(60)

    /// Runs `body` while `configuration`'s client runs, as `PostgresClient.using` does, but waits
    /// at most ``closeWait`` for the pool to close afterwards: a connection still leased then (a
    /// statement whose reply never came, see `Database.withConnection`) would keep it open, and
    /// the whole test run with it, for good. Such a pool is left behind with a warning; the
    /// cluster stops when the run exits.
    static func usingClient<Result: Sendable>(
        _ configuration: PostgresClient.Configuration,
        logger: Logger,
        _ body: @escaping @Sendable (PostgresClient) async throws -> Result
    ) async throws -> Result {
        let client = PostgresClient.onDatabaseLoops(configuration, logger: logger)
        let running = Task { await client.run() }
        let result: Swift.Result<Result, any Error>
        do {
            try await ConnectionCheck.requireReachable(
                client,
                configuration: configuration,
                timeout: reachWait,
                logger: logger
            )
            result = .success(try await body(client))
        } catch {
            result = .failure(error)
        }
        running.cancel()
        if await !finishes(running, within: closeWait) {
            logger.warning(
                "a test's connection pool did not close within \(closeWait); left behind",
                metadata: ["database": "\(configuration.database ?? "")"]
            )
        }
        return try result.get()
    }

    /// Whether `task` ends within `limit`; it is not waited for any longer.
    static func finishes(_ task: Task<Void, Never>, within limit: Duration) async -> Bool {
        let first = FirstOf()
        return await withCheckedContinuation { continuation in
            Task {
                await task.value
                first.resume(continuation, with: true)
            }
            Task {
                try? await Task.sleep(for: limit)
                first.resume(continuation, with: false)
            }
        }
    }
}

/// Resumes a continuation with the first answer given.
private final class FirstOf: @unchecked Sendable {
    private let lock = NSLock()
    private var done = false

    func resume(_ continuation: CheckedContinuation<Bool, Never>, with value: Bool) {
        lock.lock()
        let first = !done
        done = true
        lock.unlock()
        if first { continuation.resume(returning: value) }
    }
}

extension TestDatabases {
    /// Creates Astana and Shymkent as the owner, each with an `admin` (akimat_admin, auditor)
    /// and a `parent`, all with `password` hashed by `hasher`.
    public func createCities(
        hasher: any PasswordHasher,
        password: String
    ) async throws -> (astana: Tenant, shymkent: Tenant) {
        let tenants = PostgresTenantStore(database: owner)
        let astana = try await tenants.create(
            slug: TenantSlug("astana"),
            name: LocalizedText(kk: "Астана", ru: "Астана", en: "Astana"),
            region: ""
        )
        let shymkent = try await tenants.create(
            slug: TenantSlug("shymkent"),
            name: LocalizedText(kk: "Шымкент", ru: "Шымкент", en: "Shymkent"),
            region: ""
        )
        let accounts = AccountService(store: PostgresAccountStore(database: owner), hasher: hasher)
        for tenant in [astana, shymkent] {
            _ = try await accounts.createUser(
                NewUser(
                    login: "admin",
                    displayName: "Admin \(tenant.slug)",
                    iin: nil,
                    roles: [.akimatAdmin, .auditor]
                ),
                password: password,
                tenantID: tenant.id
            )
            _ = try await accounts.createUser(
                NewUser(login: "parent", displayName: "Parent \(tenant.slug)", iin: nil, roles: [.parent]),
                password: password,
                tenantID: tenant.id
            )
        }
        return (astana, shymkent)
    }
}

/// Stores passwords as they are; for tests where passwords are not under test.
public struct PlainTextPasswordHasher: PasswordHasher {
    public let decoyHash = "-"

    public init() {}

    public func hash(_ password: String) async throws -> String { "stored:" + password }

    public func verify(_ password: String, against hash: String) async throws -> Bool { hash == "stored:" + password }
}

extension TestDatabases {
    /// Astana and Shymkent with their users, for tests where passwords are not under test.
    public func createCitiesWithoutPasswords() async throws -> (astana: Tenant, shymkent: Tenant) {
        try await createCities(hasher: PlainTextPasswordHasher(), password: "not checked here")
    }
}
