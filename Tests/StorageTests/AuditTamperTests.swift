import Audit
import Core
import Foundation
import Logging
import PostgresNIO
import TestSupport
import Testing

@testable import Storage

/// Every single-row change to a stored log is found by the verifier, with the leaf index named;
/// a consistent wholesale rewrite is found against a checkpoint signed before it.
@Suite("Tampering with the stored audit log is detected")
struct AuditTamperTests {
    let logger = TestCluster.logger

    /// A tenant with a verified log of `size` leaves; `body` tampers as the owner, then verification runs.
    func tampered(
        size: Int = 12,
        signedAt: Int? = nil,
        _ tamper: @escaping @Sendable (PostgresConnection, UUID) async throws -> Void
    ) async throws -> AuditTamper? {
        try await TestDatabases.with { databases in
            let (astana, _) = try await databases.createCitiesWithoutPasswords()
            let log = try await databases.fillAuditLog(tenant: astana.id, count: size)
            let head = try await log.head(tenantID: astana.id)
            let signed = Checkpoint(
                origin: "adal.test/audit/astana",
                size: signedAt ?? head.size,
                root: try await log.root(size: signedAt ?? head.size, tenantID: astana.id)
            )
            let verifier = AuditVerifier(database: databases.application)
            #expect(try await verifier.verify(tenantID: astana.id, checkpoints: [signed]).size == size)
            try await databases.owner.withTenant(astana.id) { connection in try await tamper(connection, astana.id) }
            do {
                _ = try await verifier.verify(tenantID: astana.id, checkpoints: [signed])
                return nil
            } catch let tamper as AuditTamper {
                return tamper
            }
        }
    }

    @Test("a flipped byte in an entry is found at its index")
    func byteFlip() async throws {
        let found = try await tampered { connection, tenant in
            try await connection.query(
                """
                UPDATE audit_leaves SET entry = set_byte(entry, 40, get_byte(entry, 40) # 1)
                WHERE tenant_id = \(tenant) AND leaf_index = 7
                """,
                logger: logger
            )
        }
        #expect(found?.index == 7)
    }

    /// A log where leaf 5's entry has one byte flipped (`offset`, an SQL expression of `entry`)
    /// and its leaf hash rewritten to match.
    func rewritten(byteAt offset: String) async throws -> AuditTamper? {
        try await tampered { connection, tenant in
            let flipped = "set_byte(entry, \(offset), get_byte(entry, \(offset)) # 1)"
            try await connection.query(
                PostgresQuery(
                    unsafeSQL: """
                        UPDATE audit_leaves SET entry = \(flipped), leaf_hash = sha256('\\x00'::bytea || \(flipped))
                        WHERE tenant_id = '\(tenant)' AND leaf_index = 5
                        """
                ),
                logger: logger
            )
        }
    }

    @Test("an entry changed together with its leaf hash is found at its subtree")
    func consistentLeafRewrite() async throws {
        // A byte of the step's input hash (the entry ends with it, a subject count and the
        // previous leaf's index): the leaf still names its stored step.
        let found = try await rewritten(byteAt: "length(entry) - 20")
        #expect(found?.index == 4)
        #expect(found?.reason.contains("4–5") == true)
    }

    @Test("an entry given another instance together with its leaf hash is found at its own index")
    func instanceRewrite() async throws {
        // Byte 40 is inside the instance's id: the entry no longer records the step stored with it.
        let found = try await rewritten(byteAt: "40")
        #expect(found?.index == 5)
        #expect(found?.reason.contains("which its entry is not") == true)
    }

    @Test("a leaf's stored step, changed or removed, is found at that leaf")
    func storedStep() async throws {
        let moved = try await tampered { connection, tenant in
            try await connection.query(
                "UPDATE audit_leaves SET sequence = sequence + 100 WHERE tenant_id = \(tenant) AND leaf_index = 6",
                logger: logger
            )
        }
        #expect(moved?.index == 6)
        let removed = try await tampered { connection, tenant in
            try await connection.query(
                """
                UPDATE audit_leaves SET instance_id = NULL, sequence = NULL
                WHERE tenant_id = \(tenant) AND leaf_index = 9
                """,
                logger: logger
            )
        }
        #expect(removed?.index == 9)
        #expect(removed?.reason.contains("stored without the step") == true)
    }

    @Test("a deleted leaf is found at its index")
    func deletion() async throws {
        let found = try await tampered { connection, tenant in
            try await connection.query(
                "DELETE FROM audit_leaves WHERE tenant_id = \(tenant) AND leaf_index = 3",
                logger: logger
            )
        }
        #expect(found?.index == 3)
    }

    @Test("two swapped leaves are found at the first of them")
    func swap() async throws {
        let found = try await tampered { connection, tenant in
            // Primary keys are checked row by row, so the swap goes through a spare index.
            for (from, to) in [(8, 1000), (10, 8), (1000, 10)] {
                try await connection.query(
                    """
                    UPDATE audit_leaves SET leaf_index = \(Int64(to))
                    WHERE tenant_id = \(tenant) AND leaf_index = \(Int64(from))
                    """,
                    logger: logger
                )
            }
        }
        #expect(found?.index == 8)
    }

    @Test("an inserted leaf is found where the tree's recorded size ends")
    func insertion() async throws {
        let found = try await tampered { connection, tenant in
            try await connection.query(
                """
                INSERT INTO audit_leaves (tenant_id, leaf_index, entry, leaf_hash)
                SELECT tenant_id, 12, entry, leaf_hash FROM audit_leaves WHERE tenant_id = \(tenant) AND leaf_index = 0
                """,
                logger: logger
            )
        }
        #expect(found?.index == 12)
    }

    @Test("a truncated log, even with its size and root rewritten to match, is found against the checkpoint")
    func truncation() async throws {
        let found = try await tampered { connection, tenant in
            try await connection.query(
                "DELETE FROM audit_leaves WHERE tenant_id = \(tenant) AND leaf_index >= 10",
                logger: logger
            )
            try await connection.query(
                "DELETE FROM audit_nodes WHERE tenant_id = \(tenant) AND ((node_index + 1) << level) > 10",
                logger: logger
            )
            var kept: [TreeHash] = []
            let rows = try await connection.query(
                "SELECT leaf_hash FROM audit_leaves WHERE tenant_id = \(tenant) ORDER BY leaf_index",
                logger: logger
            )
            for try await hash in rows.decode(Data.self) { kept.append(TreeHash(bytes: Array(hash))!) }
            let root = try MerkleTree(leaves: kept).root()
            try await connection.query(
                "UPDATE audit_trees SET size = 10, root = \(Data(root.bytes)) WHERE tenant_id = \(tenant)",
                logger: logger
            )
        }
        #expect(found?.index == 10)
    }

    @Test("a flipped byte in a stored subtree is found at the leaves it covers")
    func nodeFlip() async throws {
        let found = try await tampered { connection, tenant in
            try await connection.query(
                """
                UPDATE audit_nodes SET hash = set_byte(hash, 0, get_byte(hash, 0) # 1)
                WHERE tenant_id = \(tenant) AND level = 2 AND node_index = 1
                """,
                logger: logger
            )
        }
        #expect(found?.index == 4)
    }

    @Test("a deleted subtree is found at the first leaf it covers")
    func nodeDeletion() async throws {
        let found = try await tampered { connection, tenant in
            try await connection.query(
                "DELETE FROM audit_nodes WHERE tenant_id = \(tenant) AND level = 1 AND node_index = 3",
                logger: logger
            )
        }
        #expect(found?.index == 6)
    }

    @Test("a subtree stored beyond the tree's end is found there")
    func nodeInsertion() async throws {
        let found = try await tampered { connection, tenant in
            try await connection.query(
                """
                INSERT INTO audit_nodes (tenant_id, level, node_index, hash)
                SELECT tenant_id, 2, 3, hash FROM audit_nodes WHERE tenant_id = \(tenant) AND level = 2 AND node_index = 0
                """,
                logger: logger
            )
        }
        #expect(found?.index == 12)
    }

    @Test("an untouched log verifies")
    func untouched() async throws {
        let found = try await tampered(signedAt: 5) { _, _ in }
        #expect(found == nil)
    }
}
