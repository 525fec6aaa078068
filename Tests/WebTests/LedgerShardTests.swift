import Core
import Foundation
import PostgresNIO
import Storage
import TestSupport
import Testing

@testable import MealPayments

/// `adal_ledger_move_shared` (migration 0018): a move takes a shard of a shared account that no
/// other transaction holds, so charges of one supplier never queue on each other's commits.
@Suite("Ledger shards")
struct LedgerShardTests {
    /// One move in a transaction that stays open (its shard locked) until `release` is called.
    final class HeldMove: Sendable {
        let shard: Task<UUID, any Error>
        private let gate: AsyncStream<Void>.Continuation
        private let done: Task<Void, any Error>

        init(_ database: Database, tenantID: UUID, from shard: Int16, shards: Int16) {
            let (stream, gate) = AsyncStream<Void>.makeStream()
            let (found, report) = AsyncThrowingStream<UUID, any Error>.makeStream()
            self.gate = gate
            done = Task {
                do {
                    try await database.withTenant(tenantID) { connection in
                        // A move that has to wait fails within the test instead of hanging it.
                        try await connection.run("SET LOCAL lock_timeout = '5s'", logger: database.logger)
                        report.yield(try await LedgerShardTests.move(connection, tenantID, from: shard, shards: shards))
                        for await _ in stream { break }
                    }
                    report.finish()
                } catch {
                    report.finish(throwing: error)
                    throw error
                }
            }
            self.shard = Task {
                for try await id in found { return id }
                throw CancellationError()
            }
        }

        func release() async throws {
            gate.yield()
            try await done.value
        }
    }

    static func move(
        _ connection: PostgresConnection,
        _ tenantID: UUID,
        from shard: Int16,
        shards: Int16
    )
        async throws -> UUID
    {
        for try await id in try await connection.query(
            """
            SELECT adal_ledger_move_shared(\(tenantID)::uuid, 'supplier', '070941024691', 100::bigint,
                \(shard)::smallint, \(shards)::smallint)
            """,
            logger: Logger(label: "test")
        ).decode(UUID.self) {
            return id
        }
        throw CancellationError()
    }

    @Test("moves held open at once take different shards; more shards are made only when all are held")
    func freeShards() async throws {
        try await TestDatabases.with { databases in
            let (astana, _) = try await databases.createCities(
                hasher: PlainTextPasswordHasher(),
                password: "unused-password"
            )
            let database = databases.application
            // Two shards exist once the first move has committed.
            let first = try await database.withTenant(astana.id) {
                try await Self.move($0, astana.id, from: 0, shards: 2)
            }
            // Each move starts from shard 0; the first holds it, the second takes shard 1, the
            // third finds both held, makes shards 2 and 3 (up to its count of 4) and takes 2.
            var held: [HeldMove] = []
            var shards: [UUID] = []
            for _ in 0..<3 {
                let move = HeldMove(database, tenantID: astana.id, from: 0, shards: 4)
                held.append(move)
                shards.append(try await move.shard.value)
            }
            #expect(shards[0] == first)
            #expect(Set(shards).count == 3)
            for move in held { try await move.release() }
            let rows = try await database.withTenant(astana.id) { connection in
                try await connection.query(
                    """
                    SELECT shard, balance FROM ledger_accounts
                    WHERE tenant_id = \(astana.id) AND kind = 'supplier' ORDER BY shard
                    """,
                    logger: database.logger
                ).decode((Int16, Int64).self).reduce(into: [(Int16, Int64)]()) { $0.append($1) }
            }
            #expect(rows.map(\.0) == [0, 1, 2, 3])
            #expect(rows.map(\.1) == [200, 100, 100, 0])
        }
    }
}
