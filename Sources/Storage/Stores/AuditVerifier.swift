import Audit
import Foundation
import Logging
import PostgresNIO

/// Recomputes a tenant's tree from its stored leaves and checks everything stored against it:
/// each leaf hash against its entry, the indexes for gaps, every stored subtree, the tree's
/// recorded size and root, and any signed checkpoints. The first difference is reported with
/// the leaf index where it begins.
public struct AuditVerifier: Sendable {
    let database: Database

    public init(database: Database) {
        self.database = database
    }

    private var logger: Logger { database.logger }

    /// A tree that verified.
    public struct Verified: Sendable, Equatable {
        public var size: Int
        public var root: TreeHash
    }

    /// Leaves read per query.
    static let batch = 50_000

    /// Verifies the tenant's stored tree; `checkpoints` are heads signed earlier (published or kept by the notary).
    public func verify(tenantID: UUID, checkpoints: [Checkpoint] = []) async throws -> Verified {
        // One snapshot for every read, so a batch integrated meanwhile is not taken for tampering.
        try await database.withTenant(tenantID, repeatableRead: true) { connection in
            let recorded = try await recordedHead(connection, tenantID: tenantID)
            let storedNodes = try await nodes(connection, tenantID: tenantID)
            let roots = Dictionary(checkpoints.map { ($0.size, $0.root) }, uniquingKeysWith: { first, _ in first })
            if let zero = roots[0], zero != MerkleHashing.emptyRoot {
                throw AuditTamper(index: 0, reason: "a signed checkpoint of the empty tree has another root")
            }

            var frontier = MerkleFrontier()
            var chain = LeafChain()
            // In batches by index: each is an index range scan, whatever the planner thinks of
            // sorting the whole table (with statistics it chose a sort, three times slower).
            var next: Int64 = 0
            var batchFull = true
            while batchFull {
                let rows = try await connection.query(
                    """
                    SELECT leaf_index, entry, leaf_hash FROM audit_leaves
                    WHERE tenant_id = \(tenantID) AND leaf_index >= \(next) ORDER BY leaf_index LIMIT \(Int64(Self.batch))
                    """,
                    logger: logger
                )
                var read = 0
                for try await (index, entry, storedHash) in rows.decode((Int64, Data, Data).self) {
                    read += 1
                    next = index + 1
                    let expected = frontier.size
                    guard Int(index) == expected else {
                        throw AuditTamper(index: expected, reason: "leaf \(expected) is missing")
                    }
                    let bytes = Array(entry)
                    let decoded: AuditEntry
                    do {
                        decoded = try AuditEntry(decoding: bytes)
                    } catch {
                        throw AuditTamper(index: expected, reason: "the entry is not a valid leaf: \(error)")
                    }
                    guard decoded.tenantID == tenantID else {
                        throw AuditTamper(index: expected, reason: "the entry belongs to another tenant")
                    }
                    if let broken = chain.add(decoded, at: expected) {
                        throw AuditTamper(index: expected, reason: broken)
                    }
                    let leafHash = MerkleHashing.leafHash(bytes)
                    guard leafHash.bytes == Array(storedHash) else {
                        throw AuditTamper(index: expected, reason: "the stored leaf hash does not match the entry")
                    }
                    for node in frontier.append(leafHash) {
                        guard let stored = storedNodes[node.level]?[node.index] else {
                            throw AuditTamper(
                                index: node.index << node.level,
                                reason: "the subtree at level \(node.level) is missing"
                            )
                        }
                        guard stored == node.hash else {
                            let first = node.index << node.level
                            let last = first + (1 << node.level) - 1
                            throw AuditTamper(
                                index: first,
                                reason: "leaves \(first)–\(last) do not match the stored subtree over them"
                            )
                        }
                    }
                    if let signed = roots[frontier.size], signed != frontier.root {
                        throw AuditTamper(
                            index: 0,
                            reason:
                                "the first \(frontier.size) leaves do not have the root of the checkpoint signed at that size"
                        )
                    }
                }
                batchFull = read == Self.batch
            }
            guard frontier.size == recorded.size else {
                throw AuditTamper(
                    index: min(frontier.size, recorded.size),
                    reason: "the tree records \(recorded.size) leaves but \(frontier.size) are stored"
                )
            }
            guard frontier.root == recorded.root else {
                throw AuditTamper(index: 0, reason: "the recorded root does not match the leaves")
            }
            if let largest = roots.keys.max(), largest > frontier.size {
                throw AuditTamper(
                    index: frontier.size,
                    reason: "a checkpoint was signed at \(largest) leaves but only \(frontier.size) are stored"
                )
            }
            return Verified(size: frontier.size, root: frontier.root)
        }
    }

    private func recordedHead(
        _ connection: PostgresConnection,
        tenantID: UUID
    ) async throws -> (size: Int, root: TreeHash) {
        let rows = try await connection.query(
            "SELECT size, root FROM audit_trees WHERE tenant_id = \(tenantID)",
            logger: logger
        )
        for try await (size, root) in rows.decode((Int64, Data).self) {
            return (Int(size), TreeHash(bytes: Array(root)) ?? MerkleHashing.emptyRoot)
        }
        return (0, MerkleHashing.emptyRoot)
    }

    private func nodes(_ connection: PostgresConnection, tenantID: UUID) async throws -> [Int: [Int: TreeHash]] {
        var nodes: [Int: [Int: TreeHash]] = [:]
        let rows = try await connection.query(
            "SELECT level, node_index, hash FROM audit_nodes WHERE tenant_id = \(tenantID)",
            logger: logger
        )
        for try await (level, index, hash) in rows.decode((Int16, Int64, Data).self) {
            if let value = TreeHash(bytes: Array(hash)) { nodes[Int(level), default: [:]][Int(index)] = value }
        }
        return nodes
    }
}

/// Something stored differs from the tree its leaves define, from `index` on.
public struct AuditTamper: Error, Equatable, CustomStringConvertible {
    public var index: Int
    public var reason: String
    public var description: String { "audit log differs at leaf \(index): \(reason)" }
}
