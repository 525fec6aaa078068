import Core
import Foundation
import NIOPosix
import PostgresNIO
import TestSupport
import Testing

@testable import Storage

@Suite("Database work on event loops")
struct EventLoopExecutorTests {
    @Test("a transaction runs on its connection's event loop, before and after each statement")
    func transactionOnItsLoop() async throws {
        try await TestDatabases.with { databases in
            let (astana, _) = try await databases.createCitiesWithoutPasswords()
            let database = databases.application
            let logger = database.logger
            let seen = try await database.withTenant(astana.id) { connection in
                var seen = [connection.eventLoop.inEventLoop]
                for _ in 0..<3 {
                    try await connection.run("SELECT pg_sleep(0.001)", logger: logger)
                    seen.append(connection.eventLoop.inEventLoop)
                }
                return seen
            }
            #expect(seen == [true, true, true, true])
        }
    }

    @Test("the database's connections and batches run on its own loops, none of the HTTP server's")
    func databaseLoopsApart() async throws {
        let own = Array(DatabaseLoops.group.makeIterator())
        let shared = Array(MultiThreadedEventLoopGroup.singleton.makeIterator())
        try await TestDatabases.with { databases in
            let (astana, _) = try await databases.createCitiesWithoutPasswords()
            let loop = try await databases.application.withTenant(astana.id) { connection in connection.eventLoop }
            #expect(own.contains { $0 === loop })
            #expect(!shared.contains { $0 === loop })
            let executor = Database.executor()
            #expect(own.contains { $0 === executor.eventLoop })
        }
    }

    @Test("a batch queue given an event loop's executor serves every batch on that loop")
    func batchesOnTheLoop() async throws {
        let loop = DatabaseLoops.group.next()
        let queue = BatchQueue<String, Int, Bool>(
            lanes: 2,
            maximumBatch: 4,
            maximumWaiting: 100,
            executor: { EventLoopExecutor(loop) },
            serve: { _, items in
                try? await Task.sleep(for: .milliseconds(1))
                return items.map { _ in .success(loop.inEventLoop) }
            }
        )
        let answers = try await withThrowingTaskGroup(of: Bool.self) { group in
            for item in 0..<40 { group.addTask { try await queue.submit(item, key: item % 2 == 0 ? "a" : "b") } }
            return try await group.reduce(into: [Bool]()) { $0.append($1) }
        }
        #expect(answers.count == 40 && answers.allSatisfy { $0 })
        #expect(queue.served.batches < 40)
    }
}
