import Audit
import Foundation
import PostgresNIO

/// The per-tenant audit trees on PostgreSQL: queueing leaves, integrating them in batches, and
/// reading tree heads and proofs from the stored subtrees.
public struct PostgresAuditLog: Sendable {
    /// Most leaves integrated in one batch (one transaction).
    public static let maximumBatch = 5_000

    let database: Database

    public init(database: Database) {
        self.database = database
    }

    private var logger: Logger { database.logger }

    /// Queues an entry on `connection`, inside the caller's transaction (a workflow step's), so the
    /// leaf exists exactly when the step does.
    public static func queue(
        _ entry: AuditEntry,
        tenantID: UUID,
        on connection: PostgresConnection,
        logger: Logger
    ) async throws {
        let bytes = try entry.encoded()
        try await connection.query(
            "INSERT INTO audit_queue (tenant_id, entry) VALUES (\(tenantID), \(Data(bytes)))",
            logger: logger
        )
    }

    /// Moves up to `limit` queued leaves into the tree and returns how many. Returns 0 at once
    /// when another process is integrating this tenant (one sequencer per tenant at a time).
    @discardableResult
    public func integrate(tenantID: UUID, limit: Int = maximumBatch) async throws -> Int {
        do {
            return try await integrate(tenantID: tenantID, limit: limit, checkingSteps: false)
        } catch let error as PSQLError where error.sqlState == SQLState.uniqueViolation {
            // A leaf of a step that already has one (``chain(_:from:tenantID:checkingSteps:on:)``):
            // the pass again, looking each step up first.
            logger.warning("audit leaves of steps that already have one; integrating them without their step")
            return try await integrate(tenantID: tenantID, limit: limit, checkingSteps: true)
        }
    }

    private func integrate(tenantID: UUID, limit: Int, checkingSteps: Bool) async throws -> Int {
        try await database.withTenant(tenantID) { connection in
            let locked =
                try await connection.query(
                    "SELECT pg_try_advisory_xact_lock(\(Self.lockClass), hashtext(\(tenantID.uuidString)))",
                    logger: logger
                ).collect().first?.decode(Bool.self) ?? false
            guard locked else { return 0 }

            let rows = try await connection.query(
                """
                SELECT id, entry FROM audit_queue WHERE tenant_id = \(tenantID)
                ORDER BY id LIMIT \(min(max(limit, 1), Self.maximumBatch))
                """,
                logger: logger
            ).collect()
            guard !rows.isEmpty else { return 0 }
            var queued = try await Self.offDatabaseLoop {
                try rows.map { row in
                    let (id, entry) = try row.decode((Int64, ByteBuffer).self)
                    return (id: id, entry: Array(entry.readableBytesView))
                }
            }

            let size = try await treeSize(connection, tenantID: tenantID, forUpdate: true)
            let steps = try await chain(
                &queued,
                from: size,
                tenantID: tenantID,
                checkingSteps: checkingSteps,
                on: connection
            )
            let frontier = try await subtrees(connection, tenantID: tenantID, wanted: Self.frontier(size: size))
            let (writes, newSize, root) = try await Self.offDatabaseLoop {
                try Self.writes(queued, steps: steps, from: size, frontier: frontier, tenantID: tenantID)
            }
            try await connection.query(writes.leaves, logger: logger)
            if let nodes = writes.nodes { try await connection.query(nodes, logger: logger) }
            try await connection.query(
                """
                INSERT INTO audit_trees (tenant_id, size, root) VALUES (\(tenantID), \(Int64(newSize)), \(Data(root.bytes)))
                ON CONFLICT (tenant_id) DO UPDATE SET size = EXCLUDED.size, root = EXCLUDED.root, updated_at = now()
                """,
                logger: logger
            )
            // Exactly the rows read: a step with a smaller id may commit after the read, and a
            // range delete would drop its leaf without integrating it.
            try await connection.query(
                "DELETE FROM audit_queue WHERE tenant_id = \(tenantID) AND id = ANY (\(queued.map(\.id))::bigint[])",
                logger: logger
            )
            return queued.count
        }
    }

    /// The inserts of a pass: its leaves, with their steps, and the subtrees they complete; the
    /// tree's new size and root. Hashing and binding a pass's thousands of leaves is CPU work
    /// for ``offDatabaseLoop(_:)``.
    private static func writes(
        _ queued: [(id: Int64, entry: [UInt8])],
        steps: (instances: [UUID], sequences: [Int64]),
        from size: Int,
        frontier: SubtreeTable,
        tenantID: UUID
    ) throws -> (writes: (leaves: PostgresQuery, nodes: PostgresQuery?), size: Int, root: TreeHash) {
        var nodes = frontier
        var leafIndexes: [Int64] = []
        // Bound as bytea[] (ByteBuffer): neither side writes or parses hex.
        var leafEntries: [ByteBuffer] = []
        var leafHashes: [ByteBuffer] = []
        var nodeLevels: [Int16] = []
        var nodeIndexes: [Int64] = []
        var nodeHashes: [ByteBuffer] = []
        for (offset, item) in queued.enumerated() {
            let index = size + offset
            var hash = MerkleHashing.leafHash(item.entry)
            nodes[0, index] = hash
            leafIndexes.append(Int64(index))
            leafEntries.append(ByteBuffer(bytes: item.entry))
            leafHashes.append(ByteBuffer(bytes: hash.bytes))
            // Each leaf completes one subtree per trailing one-bit of its index.
            var level = 0
            var position = index
            while position & 1 == 1 {
                hash = MerkleHashing.nodeHash(try nodes.subtree(level: level, index: position - 1), hash)
                level += 1
                position >>= 1
                nodes[level, position] = hash
                nodeLevels.append(Int16(level))
                nodeIndexes.append(Int64(position))
                nodeHashes.append(ByteBuffer(bytes: hash.bytes))
            }
        }
        let newSize = size + queued.count
        let root = try MerkleAlgorithms(source: nodes, size: newSize).root(size: newSize)
        let leaves: PostgresQuery = """
            INSERT INTO audit_leaves (tenant_id, leaf_index, entry, leaf_hash, instance_id, sequence)
            SELECT \(tenantID), i, e, h, NULLIF(s, \(Self.noStep.instance)), NULLIF(n, 0)
            FROM unnest(\(leafIndexes)::bigint[], \(leafEntries)::bytea[], \(leafHashes)::bytea[],
                \(steps.instances)::uuid[], \(steps.sequences)::bigint[]) AS t (i, e, h, s, n)
            """
        let subtrees: PostgresQuery? =
            nodeLevels.isEmpty
            ? nil
            : """
            INSERT INTO audit_nodes (tenant_id, level, node_index, hash)
            SELECT \(tenantID), l, i, h
            FROM unnest(\(nodeLevels)::smallint[], \(nodeIndexes)::bigint[], \(nodeHashes)::bytea[]) AS t (l, i, h)
            """
        return ((leaves, subtrees), newSize, root)
    }

    /// Runs a pass's CPU work (decoding, hashing, binding thousands of leaves) on the global
    /// executor instead of the database's event loop, where the pass's statements run: on two
    /// cores that loop is one thread, and every connection's replies wait while it works.
    static func offDatabaseLoop<Result: Sendable>(_ work: () throws -> Result) async throws -> Result {
        try await withTaskExecutorPreference(globalConcurrentExecutor) { try work() }
    }

    /// Links each step's leaf to its instance's previous one: a queued entry cannot know the
    /// index its predecessor will get, so the sequencer fills `previousLeafIndex`. Returns the
    /// step of each leaf, for its `instance_id` and `sequence` columns (``noStep`` for an entry
    /// that is not a step's, or whose step already has a leaf: the first one keeps it). An
    /// instance's steps are queued in order (each step locks the instance), so the predecessor
    /// is always integrated first. A step has one leaf (its key in `workflow_steps`), so only
    /// `checkingSteps` looks up whether the queued steps already have one, after a pass the
    /// leaves' unique index refused.
    private func chain(
        _ queued: inout [(id: Int64, entry: [UInt8])],
        from size: Int,
        tenantID: UUID,
        checkingSteps: Bool,
        on connection: PostgresConnection
    ) async throws -> (instances: [UUID], sequences: [Int64]) {
        let decoded = try await Self.offDatabaseLoop { [queued] in queued.map { try? AuditEntry(decoding: $0.entry) } }
        let wanted = decoded.compactMap { $0 }.filter { $0.sequence > 1 || checkingSteps }
        var leaves: [StepKey: Int64] = [:]
        if !wanted.isEmpty {
            // Each one's predecessor; when checking, each step itself too.
            let lookups =
                wanted.map { ($0.instanceID, Int64($0.sequence) - 1) }
                + (checkingSteps ? wanted.map { ($0.instanceID, Int64($0.sequence)) } : [])
            let rows = try await connection.query(
                """
                SELECT l.instance_id, l.sequence, l.leaf_index FROM audit_leaves l
                JOIN unnest(\(lookups.map(\.0))::uuid[], \(lookups.map(\.1))::bigint[])
                  AS w (instance_id, sequence) ON l.instance_id = w.instance_id AND l.sequence = w.sequence
                WHERE l.tenant_id = \(tenantID)
                """,
                logger: logger
            )
            for try await (instance, sequence, leaf) in rows.decode((UUID, Int64, Int64).self) {
                leaves[StepKey(instance: instance, sequence: sequence)] = leaf
            }
        }
        let (logger, chained) = (logger, queued)
        let (entries, steps) = try await Self.offDatabaseLoop {
            try Self.chained(chained, decoded: decoded, leaves: leaves, from: size, logger: logger)
        }
        queued = entries
        return steps
    }

    /// The entries with their previous leaves filled in (`leaves`: the instances' steps found),
    /// and each leaf's step (``noStep`` for one that is not a step's, or whose step already has
    /// a leaf).
    private static func chained(
        _ queued: [(id: Int64, entry: [UInt8])],
        decoded: [AuditEntry?],
        leaves found: [StepKey: Int64],
        from size: Int,
        logger: Logger
    ) throws -> ([(id: Int64, entry: [UInt8])], (instances: [UUID], sequences: [Int64])) {
        var queued = queued
        var leaves = found
        var steps: (instances: [UUID], sequences: [Int64]) = ([], [])
        steps.instances.reserveCapacity(queued.count)
        steps.sequences.reserveCapacity(queued.count)

        /// Fills in the entry's previous leaf; the step its leaf is stored with, if any.
        func chain(_ entry: AuditEntry?, at offset: Int) throws -> StepKey? {
            guard var entry, entry.sequence >= 1 else { return nil }
            let index = Int64(size + offset)
            if entry.sequence > 1 {
                if let previous = leaves[StepKey(instance: entry.instanceID, sequence: Int64(entry.sequence - 1))] {
                    entry.previousLeafIndex = UInt64(previous)
                    queued[offset].entry = try entry.encoded()
                } else {
                    logger.warning(
                        "audit leaf without its predecessor",
                        metadata: ["instance": "\(entry.instanceID)", "sequence": "\(entry.sequence)"]
                    )
                }
            }
            let key = StepKey(instance: entry.instanceID, sequence: Int64(entry.sequence))
            // The next step chains to the latest leaf (as the verifiers' chain rule reads it);
            // the step's columns stay with its first.
            return leaves.updateValue(index, forKey: key) == nil ? key : nil
        }

        for (offset, entry) in decoded.enumerated() {
            let step = try chain(entry, at: offset)
            steps.instances.append(step?.instance ?? Self.noStep.instance)
            steps.sequences.append(step?.sequence ?? Self.noStep.sequence)
        }
        return (queued, steps)
    }

    /// A leaf without a step, as bound (NULL in the table).
    static let noStep = (instance: UUID(uuid: (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)), sequence: Int64(0))

    private struct StepKey: Hashable {
        let instance: UUID
        let sequence: Int64
    }

    /// The tenants with leaves waiting, found in one statement (row-level security stays on:
    /// the function sets each tenant in turn).
    public func tenantsWithQueuedLeaves() async throws -> [UUID] {
        try await database.withoutTenant { connection in
            var tenants: [UUID] = []
            let rows = try await connection.query("SELECT adal_tenants_with_queued_leaves()", logger: logger)
            for try await tenant in rows.decode(UUID.self) { tenants.append(tenant) }
            return tenants
        }
    }

    /// The tree's size and root.
    public func head(tenantID: UUID) async throws -> (size: Int, root: TreeHash) {
        try await database.withTenant(tenantID) { connection in
            let rows = try await connection.query(
                "SELECT size, root FROM audit_trees WHERE tenant_id = \(tenantID)",
                logger: logger
            )
            for try await (size, root) in rows.decode((Int64, Data).self) {
                guard let hash = TreeHash(bytes: Array(root)) else { break }
                return (Int(size), hash)
            }
            return (0, MerkleHashing.emptyRoot)
        }
    }

    /// An integrated leaf: its entry's bytes and its hash; nil past the tree's end.
    public func leaf(index: Int, tenantID: UUID) async throws -> (entry: [UInt8], hash: TreeHash)? {
        try await database.withTenant(tenantID) { connection in
            let rows = try await connection.query(
                """
                SELECT entry, leaf_hash FROM audit_leaves
                WHERE tenant_id = \(tenantID) AND leaf_index = \(Int64(index))
                """,
                logger: logger
            )
            for try await (entry, hash) in rows.decode((Data, Data).self) {
                guard let leafHash = TreeHash(bytes: Array(hash)) else { break }
                return (Array(entry), leafHash)
            }
            return nil
        }
    }

    /// Most leaves one browsing page reads.
    public static let maximumPage = 200

    /// The latest leaves, newest first, starting below `before` (all when nil).
    public func recentLeaves(tenantID: UUID, before: Int?, limit: Int) async throws -> [(index: Int, entry: [UInt8])] {
        let bound = Int64(before ?? Int(Int64.max))
        return try await database.withTenant(tenantID) { connection in
            let rows = try await connection.query(
                """
                SELECT leaf_index, entry FROM audit_leaves
                WHERE tenant_id = \(tenantID) AND leaf_index < \(bound)
                ORDER BY leaf_index DESC LIMIT \(Int64(min(max(limit, 1), Self.maximumPage)))
                """,
                logger: logger
            )
            var leaves: [(index: Int, entry: [UInt8])] = []
            for try await (index, entry) in rows.decode((Int64, Data).self) {
                leaves.append((Int(index), Array(entry)))
            }
            return leaves
        }
    }

    /// Every integrated leaf of one instance, in step order.
    public func leaves(ofInstance instanceID: UUID, tenantID: UUID) async throws -> [(index: Int, entry: [UInt8])] {
        try await database.withTenant(tenantID) { connection in
            let rows = try await connection.query(
                """
                SELECT leaf_index, entry FROM audit_leaves
                WHERE tenant_id = \(tenantID) AND instance_id = \(instanceID)
                ORDER BY sequence LIMIT \(Int64(Self.maximumPage))
                """,
                logger: logger
            )
            var leaves: [(index: Int, entry: [UInt8])] = []
            for try await (index, entry) in rows.decode((Int64, Data).self) {
                leaves.append((Int(index), Array(entry)))
            }
            return leaves
        }
    }

    /// The audit path of leaf `index` at tree size `size`.
    public func inclusionProof(index: Int, size: Int, tenantID: UUID) async throws -> [TreeHash] {
        try await withAlgorithms(tenantID: tenantID, size: size) { try $0.inclusionProof(index: index, size: size) }
    }

    /// The index of the first leaf with hash `leafHash` among the first `size` leaves and its
    /// audit path at `size` (RFC 6962 get-proof-by-hash); nil when no such leaf is there.
    public func inclusionProof(
        leafHash: TreeHash,
        size: Int,
        tenantID: UUID
    ) async throws -> (index: Int, proof: [TreeHash])? {
        let logger = logger
        let found = try await database.withConnection { connection in
            var found: Int?
            let rows = try await connection.query(
                """
                SELECT leaf_index FROM adal_audit_leaf_by_hash(\(tenantID)::uuid, \(Data(leafHash.bytes))::bytea, \(Int64(size))::bigint)
                """,
                logger: logger
            )
            for try await index in rows.decode(Int64?.self) { found = index.map(Int.init) }
            return found
        }
        guard let index = found else {
            // A size past the log's end is its own answer, whether or not the leaf is there.
            _ = try await inclusionProof(index: 0, size: size, tenantID: tenantID)
            return nil
        }
        return (index, try await inclusionProof(index: index, size: size, tenantID: tenantID))
    }

    /// The proof that tree size `oldSize` is a prefix of tree size `newSize`.
    public func consistencyProof(oldSize: Int, newSize: Int, tenantID: UUID) async throws -> [TreeHash] {
        try await withAlgorithms(tenantID: tenantID, size: newSize) {
            try $0.consistencyProof(oldSize: oldSize, newSize: newSize)
        }
    }

    /// The root at an earlier size, recomputed from stored subtrees.
    public func root(size: Int, tenantID: UUID) async throws -> TreeHash {
        try await withAlgorithms(tenantID: tenantID, size: size) { try $0.root(size: size) }
    }

    /// Runs `compute` on a tree of `size` leaves twice: once to learn which subtrees it reads,
    /// then on those, read in one statement (one round trip). The tree's size is not read first:
    /// leaf `size − 1` and every subtree a computation at `size` needs are stored exactly when the
    /// log has at least `size` leaves (they are written with the size they complete), so only a
    /// missing one sends us to read the real size and answer the request against it.
    private func withAlgorithms<Result: Sendable>(
        tenantID: UUID,
        size: Int,
        _ compute: @escaping @Sendable (MerkleAlgorithms<SubtreeTable>) throws -> Result
    ) async throws -> Result {
        do {
            let recorder = SubtreeRecorder()
            _ = try compute(MerkleAlgorithms(source: SubtreeTable(recordingInto: recorder), size: size))
            // The last leaf at `size` is read too: it exists exactly when the log is that long,
            // even for a computation that needs no stored subtree (a one-leaf tree's proof).
            let last = (level: 0, index: size - 1)
            let table = try await subtrees(tenantID: tenantID, wanted: recorder.requested + (size > 0 ? [last] : []))
            guard size == 0 || table[last.level, last.index] != nil else {
                throw MerkleError.missingNode(level: last.level, index: last.index)
            }
            return try compute(MerkleAlgorithms(source: table, size: size))
        } catch let error as MerkleError {
            let actual = try await head(tenantID: tenantID).size
            guard actual < size else { throw error }
            // Out of range for the real tree: this throws the error that names its size.
            _ = try compute(MerkleAlgorithms(source: SubtreeTable(recordingInto: SubtreeRecorder()), size: actual))
            throw error
        }
    }

    /// The tree's size; `forUpdate` locks the row for the sequencer's batch.
    private func treeSize(_ connection: PostgresConnection, tenantID: UUID, forUpdate: Bool) async throws -> Int {
        let rows = try await connection.query(
            forUpdate
                ? "SELECT size FROM audit_trees WHERE tenant_id = \(tenantID) FOR UPDATE"
                : "SELECT size FROM audit_trees WHERE tenant_id = \(tenantID)",
            logger: logger
        )
        for try await size in rows.decode(Int64.self) { return Int(size) }
        return 0
    }

    /// The complete subtrees whose hashes cover leaves [0, size): one per set bit of size.
    static func frontier(size: Int) -> [(level: Int, index: Int)] {
        (0..<Int.bitWidth).filter { size >> $0 & 1 == 1 }.map { ($0, (size >> $0) - 1) }
    }

    /// Stored subtrees inside the sequencer's transaction.
    private func subtrees(
        _ connection: PostgresConnection,
        tenantID: UUID,
        wanted: [(level: Int, index: Int)]
    ) async throws -> SubtreeTable {
        try await Self.table(
            try await connection.execute(SubtreeQuery(tenantID: tenantID, wanted: wanted), logger: logger)
        )
    }

    /// Stored subtrees for a proof: one statement on any pooled connection, no transaction.
    private func subtrees(tenantID: UUID, wanted: [(level: Int, index: Int)]) async throws -> SubtreeTable {
        let (logger, query) = (logger, SubtreeQuery(tenantID: tenantID, wanted: wanted))
        let hashes = try await database.withConnection { connection in
            try await Self.table(try await connection.execute(query, logger: logger)).hashes
        }
        var table = SubtreeTable()
        table.hashes = hashes
        return table
    }

    private static func table(_ rows: some AsyncSequence<SubtreeQuery.Row, any Error>) async throws -> SubtreeTable {
        var table = SubtreeTable()
        for try await (level, index, hash) in rows {
            table[Int(level), Int(index)] = hash.withUnsafeReadableBytes { TreeHash(raw: $0) }
        }
        return table
    }

    /// The stored leaf hashes and subtrees a computation needs (`adal_audit_subtrees`, which
    /// sets the tenant for its own reads), as one prepared statement.
    struct SubtreeQuery: PreparedSQL {
        typealias Row = (Int32, Int64, ByteBuffer)
        static let name = "adal_audit_subtrees"
        static let sql = SubtreeQuery(tenantID: UUID(), wanted: []).query.sql

        let query: PostgresQuery

        init(tenantID: UUID, wanted: [(level: Int, index: Int)]) {
            let leaves = wanted.filter { $0.level == 0 }.map { Int64($0.index) }
            let inner = wanted.filter { $0.level > 0 }
            query = """
                SELECT level, node_index, hash FROM adal_audit_subtrees(
                    \(tenantID)::uuid, \(leaves)::bigint[], \(inner.map { Int32($0.level) })::int[],
                    \(inner.map { Int64($0.index) })::bigint[])
                """
        }

        func decodeRow(_ row: PostgresRow) throws -> Row {
            try row.decode(Row.self)
        }
    }

    /// First key of the sequencer's advisory lock (the second is the tenant); `adal` in ASCII.
    static let lockClass: Int32 = 0x6164_616c
}
