import Audit
import Core
import Foundation
import Logging
import PostgresNIO
import TestSupport
import Testing

@testable import Storage

@Suite("The stored audit tree")
struct AuditLogStoreTests {
    let logger = TestCluster.logger

    static func entry(tenant: UUID, number: Int) -> AuditEntry {
        AuditEntry(
            tenantID: tenant,
            service: "sick-leave",
            instanceID: UUID(),
            sequence: UInt64(number + 1),
            event: "open",
            actorRole: "clinic_doctor",
            time: Date(timeIntervalSince1970: 1_790_000_000 + Double(number)),
            amounts: [],
            inputHash: Array(repeating: UInt8(number & 0xff), count: 32),
            subjects: [],
            previousLeafIndex: AuditEntry.noPreviousLeaf
        )
    }

    /// Queues `count` entries for the tenant in one transaction, as a step would, and returns their leaf hashes.
    func queue(_ count: Int, tenant: UUID, from start: Int, in databases: TestDatabases) async throws -> [TreeHash] {
        let entries = (start..<(start + count)).map { Self.entry(tenant: tenant, number: $0) }
        try await databases.application.withTenant(tenant) { connection in
            for entry in entries {
                try await PostgresAuditLog.queue(entry, tenantID: tenant, on: connection, logger: logger)
            }
        }
        return try entries.map { try $0.leafHash() }
    }

    @Test("batches of any size build the tree RFC 6962 defines, and every stored proof verifies")
    func matchesReference() async throws {
        try await TestDatabases.with { databases in
            let (astana, shymkent) = try await databases.createCitiesWithoutPasswords()
            let log = PostgresAuditLog(database: databases.application)
            var reference = MerkleTree()
            var sizes: [Int] = [0]
            for (batch, limit) in [(1, 1), (2, 5), (5, 2), (13, 100), (0, 10), (11, 3)] {
                for leaf in try await queue(batch, tenant: astana.id, from: reference.size, in: databases) {
                    reference.append(leaf)
                }
                while try await log.integrate(tenantID: astana.id, limit: limit) > 0 {}
                let head = try await log.head(tenantID: astana.id)
                #expect(head.size == reference.size)
                #expect(head.root == (try reference.root()))
                sizes.append(head.size)
            }
            let size = reference.size
            let root = try reference.root()
            for index in 0..<size {
                let proof = try await log.inclusionProof(index: index, size: size, tenantID: astana.id)
                #expect(proof == (try reference.inclusionProof(index: index, size: size)))
                #expect(
                    ProofVerifier.verifyInclusion(
                        index: index,
                        size: size,
                        leafHash: reference.leaves[index],
                        proof: proof,
                        root: root
                    )
                )
                let byHash = try await log.inclusionProof(
                    leafHash: reference.leaves[index],
                    size: size,
                    tenantID: astana.id
                )
                #expect(byHash?.index == index)
                #expect(byHash?.proof == proof)
            }
            // A leaf hash is found only among the first `size` leaves, and only in its own city.
            #expect(
                try await log.inclusionProof(leafHash: reference.leaves[size - 1], size: size - 1, tenantID: astana.id)
                    == nil
            )
            await #expect(throws: MerkleError.noSuchLeaves(size: size, treeSize: 0)) {
                try await log.inclusionProof(leafHash: reference.leaves[0], size: size, tenantID: shymkent.id)
            }
            for oldSize in sizes {
                let proof = try await log.consistencyProof(oldSize: oldSize, newSize: size, tenantID: astana.id)
                #expect(
                    ProofVerifier.verifyConsistency(
                        oldSize: oldSize,
                        newSize: size,
                        oldRoot: try reference.root(size: oldSize),
                        newRoot: root,
                        proof: proof
                    )
                )
                #expect(try await log.root(size: oldSize, tenantID: astana.id) == (try reference.root(size: oldSize)))
            }
            // Another city's tree is untouched.
            #expect(try await log.head(tenantID: shymkent.id).size == 0)
        }
    }

    @Test("several sequencers at once integrate every leaf once, with gapless indexes")
    func concurrentSequencers() async throws {
        try await TestDatabases.with { databases in
            let (astana, _) = try await databases.createCitiesWithoutPasswords()
            let log = PostgresAuditLog(database: databases.application)
            let leaves = try await queue(60, tenant: astana.id, from: 0, in: databases)
            try await withThrowingTaskGroup(of: Void.self) { group in
                for _ in 0..<4 {
                    group.addTask {
                        for _ in 0..<30 { _ = try await log.integrate(tenantID: astana.id, limit: 7) }
                    }
                }
                try await group.waitForAll()
            }
            while try await log.integrate(tenantID: astana.id, limit: 7) > 0 {}
            let head = try await log.head(tenantID: astana.id)
            #expect(head.size == 60)
            #expect(head.root == (try MerkleTree(leaves: leaves).root()))
        }
    }

    @Test("the server's role can add to the log but not change or remove what is in it")
    func appendOnly() async throws {
        try await TestDatabases.with { databases in
            let (astana, _) = try await databases.createCitiesWithoutPasswords()
            _ = try await queue(3, tenant: astana.id, from: 0, in: databases)
            try await PostgresAuditLog(database: databases.application).integrate(tenantID: astana.id)
            for statement in [
                "UPDATE audit_leaves SET entry = '\\x00'", "DELETE FROM audit_leaves", "DELETE FROM audit_nodes",
            ] {
                do {
                    try await databases.application.withTenant(astana.id) { connection in
                        try await connection.query(PostgresQuery(unsafeSQL: statement), logger: logger)
                    }
                    Issue.record("\(statement) was allowed")
                } catch let error as PSQLError {
                    #expect(error.sqlState == SQLState.insufficientPrivilege)
                }
            }
        }
    }

    @Test("each leaf records its step; a step queued twice is integrated, its step kept by its first leaf")
    func stepsOfLeaves() async throws {
        try await TestDatabases.with { databases in
            let (astana, _) = try await databases.createCitiesWithoutPasswords()
            let instance = UUID()
            func step(_ sequence: UInt64, _ number: Int) -> AuditEntry {
                var entry = Self.entry(tenant: astana.id, number: number)
                entry.instanceID = instance
                entry.sequence = sequence
                return entry
            }
            let log = PostgresAuditLog(database: databases.application)
            func queue(_ entries: [AuditEntry]) async throws {
                try await databases.application.withTenant(astana.id) { connection in
                    for entry in entries {
                        try await PostgresAuditLog.queue(entry, tenantID: astana.id, on: connection, logger: logger)
                    }
                }
                while try await log.integrate(tenantID: astana.id) > 0 {}
            }
            // Steps 1 and 2, then 2 again in the same batch as 3, then 3 again alone: the step's
            // key is taken by its first leaf within a batch and across batches.
            try await queue([step(1, 0), step(2, 1)])
            try await queue([step(2, 2), step(3, 3)])
            try await queue([step(3, 4)])
            #expect(try await log.head(tenantID: astana.id).size == 5)
            let stored = try await databases.owner.withTenant(astana.id) { connection in
                var stored: [Int64?] = []
                let rows = try await connection.query(
                    "SELECT sequence FROM audit_leaves WHERE tenant_id = \(astana.id) ORDER BY leaf_index",
                    logger: logger
                )
                for try await sequence in rows.decode(Int64?.self) { stored.append(sequence) }
                return stored
            }
            #expect(stored == [1, 2, nil, 3, nil])
            let leaves = try await log.leaves(ofInstance: instance, tenantID: astana.id)
            #expect(leaves.map(\.index) == [0, 1, 3])
            // Each step chains to its instance's latest leaf, as the verifier's rule reads it; a
            // step with two leaves is still a fault the verifier names, at the second.
            #expect(try AuditEntry(decoding: leaves[2].entry).previousLeafIndex == 2)
            do {
                _ = try await AuditVerifier(database: databases.application).verify(tenantID: astana.id)
                Issue.record("a step with two leaves verified")
            } catch let tamper as AuditTamper {
                #expect(tamper.index == 2)
            }
        }
    }

    @Test("a leaf or subtree naming a city that does not exist is refused")
    func unknownCity() async throws {
        try await TestDatabases.with { databases in
            _ = try await databases.createCitiesWithoutPasswords()
            // The owner, with the unknown city set as its tenant: the row passes row-level
            // security and meets the city check.
            let nowhere = UUID()
            for statement in [
                """
                INSERT INTO audit_leaves (tenant_id, leaf_index, entry, leaf_hash)
                VALUES ('\(nowhere)', 0, '\\x01', sha256('\\x0001'))
                """,
                "INSERT INTO audit_nodes (tenant_id, level, node_index, hash) VALUES ('\(nowhere)', 1, 0, sha256('x'))",
            ] {
                do {
                    try await databases.owner.withTenant(nowhere) { connection in
                        try await connection.query(PostgresQuery(unsafeSQL: statement), logger: logger)
                    }
                    Issue.record("\(statement) was allowed")
                } catch let error as PSQLError {
                    #expect(error.sqlState == "23503", "\(statement)")
                    #expect(error.serverInfo?[.message]?.contains(nowhere.uuidString.lowercased()) == true)
                }
            }
        }
    }

    @Test("proof requests outside the tree are refused with the reason")
    func outOfRange() async throws {
        try await TestDatabases.with { databases in
            let (astana, shymkent) = try await databases.createCitiesWithoutPasswords()
            _ = try await queue(4, tenant: astana.id, from: 0, in: databases)
            let log = PostgresAuditLog(database: databases.application)
            try await log.integrate(tenantID: astana.id)
            await #expect(throws: MerkleError.indexOutOfRange(index: 4, treeSize: 4)) {
                try await log.inclusionProof(index: 4, size: 4, tenantID: astana.id)
            }
            await #expect(throws: MerkleError.sizeOutOfRange(size: 5, treeSize: 4)) {
                try await log.consistencyProof(oldSize: 1, newSize: 5, tenantID: astana.id)
            }
            // Sizes past the log's end are answered against its real size, which is named.
            await #expect(throws: MerkleError.noSuchLeaves(size: 6, treeSize: 4)) {
                try await log.inclusionProof(index: 1, size: 6, tenantID: astana.id)
            }
            await #expect(throws: MerkleError.sizeOutOfRange(size: 9, treeSize: 4)) {
                try await log.root(size: 9, tenantID: astana.id)
            }
            await #expect(throws: MerkleError.noSuchLeaves(size: 5, treeSize: 4)) {
                try await log.inclusionProof(leafHash: MerkleHashing.emptyRoot, size: 5, tenantID: astana.id)
            }
            // Another city's proof reads nothing of this one.
            #expect(try await log.head(tenantID: shymkent.id).size == 0)
            await #expect(throws: MerkleError.noSuchLeaves(size: 1, treeSize: 0)) {
                try await log.inclusionProof(index: 0, size: 1, tenantID: shymkent.id)
            }
        }
    }
}

@Suite("The sequencer while steps are committing")
struct AuditSequencerRaceTests {
    @Test("no queued leaf is lost when steps commit while a batch is being integrated")
    func noLeafLost() async throws {
        try await TestDatabases.with { databases in
            let (astana, _) = try await databases.createCitiesWithoutPasswords()
            let log = PostgresAuditLog(database: databases.application)
            let writers = 8
            let perWriter = 40
            try await withThrowingTaskGroup(of: Void.self) { group in
                for writer in 0..<writers {
                    group.addTask {
                        for number in 0..<perWriter {
                            try await databases.application.withTenant(astana.id) { connection in
                                try await PostgresAuditLog.queue(
                                    AuditLogStoreTests.entry(tenant: astana.id, number: writer * perWriter + number),
                                    tenantID: astana.id,
                                    on: connection,
                                    logger: TestCluster.logger
                                )
                            }
                        }
                    }
                }
                group.addTask {
                    for _ in 0..<200 {
                        _ = try await log.integrate(tenantID: astana.id, limit: 3)
                    }
                }
                try await group.waitForAll()
            }
            while try await log.integrate(tenantID: astana.id) > 0 {}
            #expect(try await log.head(tenantID: astana.id).size == writers * perWriter)
            _ = try await AuditVerifier(database: databases.application).verify(tenantID: astana.id)
        }
    }
}

extension TestDatabases {
    /// Queues `count` entries for `tenant` in one transaction and integrates them all.
    func fillAuditLog(tenant: UUID, count: Int) async throws -> PostgresAuditLog {
        try await application.withTenant(tenant) { connection in
            for number in 0..<count {
                try await PostgresAuditLog.queue(
                    AuditLogStoreTests.entry(tenant: tenant, number: number),
                    tenantID: tenant,
                    on: connection,
                    logger: application.logger
                )
            }
        }
        let log = PostgresAuditLog(database: application)
        while try await log.integrate(tenantID: tenant) > 0 {}
        return log
    }
}
