/// The right edge of a growing tree: one complete subtree per set bit of its size. Appending a
/// leaf completes the subtrees it closes, which is how a verifier recomputes every stored node
/// in one pass over the leaves, with memory O(log n).
public struct MerkleFrontier: Sendable {
    /// Complete subtrees from the largest (leftmost) to the smallest, with their levels.
    public private(set) var subtrees: [(level: Int, hash: TreeHash)] = []
    public private(set) var size = 0

    public init() {}

    /// Adds a leaf, calling `completed` with each subtree it completes above level 0, lowest
    /// first: (level, index within the level, hash).
    public mutating func append(
        _ leaf: TreeHash,
        completed: (_ level: Int, _ index: Int, _ hash: TreeHash) throws -> Void
    ) rethrows {
        var hash = leaf
        var level = 0
        var position = size
        while let last = subtrees.last, last.level == level {
            subtrees.removeLast()
            hash = MerkleHashing.nodeHash(last.hash, hash)
            level += 1
            position >>= 1
            try completed(level, position, hash)
        }
        subtrees.append((level, hash))
        size += 1
    }

    /// Adds a leaf.
    public mutating func append(_ leaf: TreeHash) {
        append(leaf) { _, _, _ in }
    }

    /// The root of the leaves appended so far.
    public var root: TreeHash {
        guard var result = subtrees.last?.hash else { return MerkleHashing.emptyRoot }
        for subtree in subtrees.dropLast().reversed() {
            result = MerkleHashing.nodeHash(subtree.hash, result)
        }
        return result
    }
}
