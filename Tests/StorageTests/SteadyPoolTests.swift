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
                try await owner.withoutTenant { connection in
                    let rows = try await connection.query(
                        "SELECT count(*)::integer FROM pg_stat_activity WHERE datname = \(name) AND usename = 'adal_app'",
                        logger: logger
                    )
                    return try await rows.collect().first?.decode(Int.self) ?? 0
                }
            }
            let before = try await backends()
            let configuration = databases.applicationConfiguration.steadyPool(connections: 3)
            #expect(configuration.options.keepAliveBehavior == nil)
            try await PostgresClient.using(configuration, logger: logger) { client in
                // The pool opens its connections by itself, without a lease asking for them.
                let deadline = ContinuousClock.now + .seconds(20)
                var opened = try await backends() - before
                while opened < 3, ContinuousClock.now < deadline {
                    try await Task.sleep(for: .milliseconds(50))
                    opened = try await backends() - before
                }
                #expect(opened == 3)
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
}
