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
        let entry: AuditEntry
        do {
            entry = try AuditEntry(decoding: bytes)
        } catch {
            throw LeafProblem(reason: "the entry is not a valid leaf: \(error)")
        }
        if let tenantID, entry.tenantID != tenantID {
            throw LeafProblem(reason: "the entry belongs to another tenant")
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
