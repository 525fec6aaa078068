import struct Foundation.UUID

/// Replays a log's leaves in index order, as both verifiers do (the server's `adal audit verify`
/// and the offline bundle check): each entry must decode canonically, belong to the tenant when
/// one is named, and chain to its instance's previous leaf; its leaf hash then joins the tree.
public struct LogReplay: Sendable {
    public private(set) var frontier = MerkleFrontier()
    private var chain = LeafChain()
    private let tenantID: UUID?

    public init(tenantID: UUID? = nil) {
        self.tenantID = tenantID
    }

    /// Leaves appended so far; also the index the next entry must have.
    public var size: Int { frontier.size }

    /// Checks the entry at index `size` and returns its leaf hash; ``append(_:completed:)`` adds it.
    public mutating func check(_ bytes: [UInt8]) throws(LeafProblem) -> TreeHash {
        try check(bytes, storedStep: nil, stepStored: false)
    }

    /// As ``check(_:)``, for a leaf stored with the step it records (the server's `instance_id`
    /// and `sequence` columns; nil when stored without one): a stored step must be the entry's
    /// own, and a step's leaf is stored without it only when an earlier leaf has it.
    public mutating func check(_ bytes: [UInt8], storedStep: StoredStep?) throws(LeafProblem) -> TreeHash {
        try check(bytes, storedStep: storedStep, stepStored: true)
    }

    /// The step a stored leaf names.
    public struct StoredStep: Sendable, Equatable {
        public var instanceID: UUID
        public var sequence: UInt64

        public init(instanceID: UUID, sequence: UInt64) {
            self.instanceID = instanceID
            self.sequence = sequence
        }
    }

    private mutating func check(
        _ bytes: [UInt8],
        storedStep: StoredStep?,
        stepStored: Bool
    ) throws(LeafProblem) -> TreeHash {
        let entry: AuditEntry
        do {
            entry = try AuditEntry(decoding: bytes)
        } catch {
            throw LeafProblem(reason: "the entry is not a valid leaf: \(error)")
        }
        if let tenantID, entry.tenantID != tenantID {
            throw LeafProblem(reason: "the entry belongs to another tenant")
        }
        if stepStored {
            if let storedStep, storedStep != StoredStep(instanceID: entry.instanceID, sequence: entry.sequence) {
                throw LeafProblem(
                    reason:
                        "the leaf is stored as step \(storedStep.sequence) of instance \(storedStep.instanceID), which its entry is not"
                )
            }
            if storedStep == nil, entry.sequence >= 1, !chain.reached(entry.instanceID, sequence: entry.sequence) {
                throw LeafProblem(reason: "the leaf is stored without the step its entry records")
            }
        }
        if let broken = chain.add(entry, at: size) {
            throw LeafProblem(reason: broken)
        }
        return MerkleHashing.leafHash(bytes)
    }

    /// Adds the checked leaf's hash to the tree; `completed` sees each subtree it completes.
    public mutating func append(
        _ leafHash: TreeHash,
        completed: (_ level: Int, _ index: Int, _ hash: TreeHash) throws -> Void
    ) rethrows {
        try frontier.append(leafHash, completed: completed)
    }
}

extension LogReplay {
    /// Adds the checked leaf's hash to the tree.
    public mutating func append(_ leafHash: TreeHash) {
        append(leafHash) { _, _, _ in }
    }
}

/// Why an entry cannot be the next leaf of the log.
public struct LeafProblem: Error, Equatable, CustomStringConvertible {
    public var reason: String
    public var description: String { reason }
}
