import Foundation
import PostgresNIO
import TestSupport
import Testing

@testable import Storage

@Suite("The server's steady pool of connections")
struct SteadyPoolTests {
    @Test("its connections are opened at start, and no more than them however many transactions wait")
    func openedAtStartAndCapped() async throws {
        try await TestDatabases.with { databases in
            let owner = databases.owner
            let logger = owner.logger
            let name = databases.name
            @Sendable func backends() async throws -> Int {
                try await Self.backends(database: name, seenBy: owner)
            }
            let before = try await backends()
            let configuration = databases.applicationConfiguration.steadyPool(connections: 3)
            #expect(configuration.options.keepAliveBehavior == nil)
            try await PostgresClient.using(configuration, logger: logger) { client in
                // The pool opens its connections by itself, without a lease asking for them.
                #expect(try await Self.settled(at: 3) { try await backends() - before } == 3)
                let database = Database(client: client, logger: logger, leaseTimeout: .seconds(30))
                let pids = try await withThrowingTaskGroup(of: Int.self) { group in
                    for _ in 0..<9 {
                        group.addTask {
                            try await database.withoutTenant { connection in
                                let rows = try await connection.query(
                                    "SELECT pg_backend_pid()::integer FROM pg_sleep(0.05)",
                                    logger: logger
                                )
                                return try await rows.collect().first?.decode(Int.self) ?? 0
                            }
                        }
                    }
                    return try await group.reduce(into: Set<Int>()) { $0.insert($1) }
                }
                #expect(pids.count == 3)
                #expect(try await backends() - before == 3)
            }
        }
    }

    @Test("after PostgreSQL is killed and started again, the pool opens its connections again", .timeLimit(.minutes(2)))
    func reopensAfterRestart() async throws {
        let logger = TestCluster.logger
        let directory = NSTemporaryDirectory() + "adal-steady-pool-\(UUID().uuidString)"
        defer {
            EmbeddedPostgres.stopImmediately(dataDirectory: directory)
            try? FileManager.default.removeItem(atPath: directory)
        }
        let embedded = EmbeddedPostgres(dataDirectory: directory, unsafeFastMode: true, port: try FreePort.find())
        let cluster = try await embedded.start(logger: logger)
        let configuration = cluster.configuration(role: .application, database: EmbeddedPostgres.databaseName)
        try await PostgresClient.using(configuration.steadyPool(connections: 3), logger: logger) { client in
            let database = Database(client: client, logger: logger, leaseTimeout: .seconds(2))
            /// The backends serving the pool's connections, seen from one of them.
            @Sendable func backends() async throws -> Int {
                try await Self.backends(database: EmbeddedPostgres.databaseName, seenBy: database)
            }
            #expect(try await Self.settled(at: 3, backends) == 3)
            #expect(AuditDatabaseCrashTests.killCluster(directory: directory) > 1)
            _ = try await embedded.start(logger: logger)
            // Requests fail while the pool finds its connections closed; then it has three again.
            #expect(try await Self.settled(at: 3, backends) == 3)
        }
    }

    /// What `count` gives once it gives `expected` (a failed count counts as none), or after a
    /// minute what it gave last: the pool opens its connections in the background.
    static func settled(at expected: Int, _ count: @Sendable () async throws -> Int) async throws -> Int {
        let deadline = ContinuousClock.now + .seconds(60)
        var seen = (try? await count()) ?? 0
        while seen != expected, ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(50))
            seen = (try? await count()) ?? 0
        }
        return seen
    }

    /// The application role's backends connected to `name`, as `database` sees them.
    static func backends(database name: String, seenBy database: Database) async throws -> Int {
        try await database.withoutTenant { connection in
            let rows = try await connection.query(
                "SELECT count(*)::integer FROM pg_stat_activity WHERE datname = \(name) AND usename = 'adal_app'",
                logger: database.logger
            )
            return try await rows.collect().first?.decode(Int.self) ?? 0
        }
    }
}
