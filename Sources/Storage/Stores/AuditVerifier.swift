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
            let storedNodes = try await StoredNodes.read(
                connection,
                tenantID: tenantID,
                treeSize: recorded.size,
                logger
            )
            let roots = Dictionary(checkpoints.map { ($0.size, $0.root) }, uniquingKeysWith: { first, _ in first })
            if let zero = roots[0], zero != MerkleHashing.emptyRoot {
                throw AuditTamper(index: 0, reason: "a signed checkpoint of the empty tree has another root")
            }

            var replay = LogReplay(tenantID: tenantID)
            // In batches by index: each is an index range scan, whatever the planner thinks of
            // sorting the whole table (with statistics it chose a sort, three times slower).
            var next: Int64 = 0
            var batchFull = true
            while batchFull {
                let rows = try await connection.query(
                    """
                    SELECT leaf_index, entry, leaf_hash, instance_id, sequence FROM audit_leaves
                    WHERE tenant_id = \(tenantID) AND leaf_index >= \(next) ORDER BY leaf_index LIMIT \(Int64(Self.batch))
                    """,
                    logger: logger
                )
                var read = 0
                for try await (index, entry, storedHash, instance, sequence) in rows.decode(
                    (Int64, ByteBuffer, ByteBuffer, UUID?, Int64?).self
                ) {
                    read += 1
                    next = index + 1
                    let expected = replay.size
                    guard Int(index) == expected else {
                        throw AuditTamper(index: expected, reason: "leaf \(expected) is missing")
                    }
                    let leafHash: TreeHash
                    do {
                        let step = instance.flatMap { instance in
                            sequence.map { LogReplay.StoredStep(instanceID: instance, sequence: UInt64(clamping: $0)) }
                        }
                        leafHash = try replay.check(Array(entry.readableBytesView), storedStep: step)
                    } catch {
                        throw AuditTamper(index: expected, reason: "\(error)")
                    }
                    guard storedHash.withUnsafeReadableBytes({ leafHash.matches($0) }) else {
                        throw AuditTamper(index: expected, reason: "the stored leaf hash does not match the entry")
                    }
                    try replay.append(leafHash) { level, index, hash in try storedNodes.check(level, index, hash) }
                    if let signed = roots[replay.size], signed != replay.frontier.root {
                        throw AuditTamper(
                            index: 0,
                            reason:
                                "the first \(replay.size) leaves do not have the root of the checkpoint signed at that size"
                        )
                    }
                }
                batchFull = read == Self.batch
            }
            let frontier = replay.frontier
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
}

/// The stored subtrees of a tree of `treeSize` leaves, level by level: level L holds
/// ⌊treeSize / 2^L⌋ complete subtrees, so each level is a dense array.
private struct StoredNodes {
    private var levels: [[TreeHash?]]

    static func read(
        _ connection: PostgresConnection,
        tenantID: UUID,
        treeSize: Int,
        _ logger: Logger
    ) async throws -> StoredNodes {
        var levels: [[TreeHash?]] = [[]]
        var level = 1
        while treeSize >> level > 0 {
            levels.append(Array(repeating: nil, count: treeSize >> level))
            level += 1
        }
        let rows = try await connection.query(
            "SELECT level, node_index, hash FROM audit_nodes WHERE tenant_id = \(tenantID)",
            logger: logger
        )
        for try await (level, index, hash) in rows.decode((Int16, Int64, ByteBuffer).self) {
            let (level, index) = (Int(level), Int(index))
            // Only integration writes subtrees, in the transaction that records the size: one
            // past the tree's end was put there by hand.
            guard level < levels.count, index < levels[level].count else {
                throw AuditTamper(
                    index: treeSize,
                    reason: "a subtree (level \(level), index \(index)) is stored beyond the tree's \(treeSize) leaves"
                )
            }
            levels[level][index] = hash.withUnsafeReadableBytes { TreeHash(raw: $0) }
        }
        return StoredNodes(levels: levels)
    }

    /// Throws unless the stored subtree (level, index) exists and is `hash`.
    func check(_ level: Int, _ index: Int, _ hash: TreeHash) throws {
        let first = index << level
        guard level < levels.count, index < levels[level].count, let stored = levels[level][index] else {
            throw AuditTamper(index: first, reason: "the subtree at level \(level) is missing")
        }
        guard stored == hash else {
            throw AuditTamper(
                index: first,
                reason: "leaves \(first)–\(first + (1 << level) - 1) do not match the stored subtree over them"
            )
        }
    }
}

/// Something stored differs from the tree its leaves define, from `index` on.
public struct AuditTamper: Error, Equatable, CustomStringConvertible {
    public var index: Int
    public var reason: String
    public var description: String { "audit log differs at leaf \(index): \(reason)" }
}
