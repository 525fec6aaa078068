/// The right edge of a growing tree: one complete subtree per set bit of its size. Appending a
/// leaf completes the subtrees it closes, which is how a verifier recomputes every stored node
/// in one pass over the leaves, with memory O(log n).
public struct MerkleFrontier: Sendable {
    /// Complete subtrees from the largest (leftmost) to the smallest, with their levels.
    public private(set) var subtrees: [(level: Int, hash: TreeHash)] = []
    public private(set) var size = 0

    public init() {}

    /// Adds a leaf and returns the subtrees it completed above level 0: (level, index, hash).
    @discardableResult
    public mutating func append(_ leaf: TreeHash) -> [(level: Int, index: Int, hash: TreeHash)] {
        var completed: [(level: Int, index: Int, hash: TreeHash)] = []
        var hash = leaf
        var level = 0
        var position = size
        while let last = subtrees.last, last.level == level {
            subtrees.removeLast()
            hash = MerkleHashing.nodeHash(last.hash, hash)
            level += 1
            position >>= 1
            completed.append((level, position, hash))
        }
        subtrees.append((level, hash))
        size += 1
        return completed
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
