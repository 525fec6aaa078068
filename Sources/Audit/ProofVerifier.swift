/// Checks inclusion and consistency proofs with nothing but hashes, following the algorithms
/// of RFC 9162 §2.1.3.2 and §2.1.4.2. This is what an auditor runs; it trusts no server.
public enum ProofVerifier {
    /// True when `proof` shows that `leafHash` is leaf `index` of the tree of `size` leaves whose head is `root`.
    public static func verifyInclusion(
        index: Int,
        size: Int,
        leafHash: TreeHash,
        proof: [TreeHash],
        root: TreeHash
    ) -> Bool {
        guard index >= 0, index < size else { return false }
        var fn = index
        var sn = size - 1
        var result = leafHash
        for sibling in proof {
            guard sn > 0 else { return false }
            if fn & 1 == 1 || fn == sn {
                result = MerkleHashing.nodeHash(sibling, result)
                climbRightEdge(&fn, &sn)
            } else {
                result = MerkleHashing.nodeHash(result, sibling)
            }
            fn >>= 1
            sn >>= 1
        }
        return sn == 0 && result == root
    }

    /// True when `proof` shows the tree of `oldSize` leaves with head `oldRoot` is a prefix of
    /// the tree of `newSize` leaves with head `newRoot`.
    public static func verifyConsistency(
        oldSize: Int,
        newSize: Int,
        oldRoot: TreeHash,
        newRoot: TreeHash,
        proof: [TreeHash]
    ) -> Bool {
        guard oldSize >= 0, oldSize <= newSize else { return false }
        if oldSize == newSize { return proof.isEmpty && oldRoot == newRoot }
        if oldSize == 0 { return proof.isEmpty && oldRoot == MerkleHashing.emptyRoot }
        guard !proof.isEmpty else { return false }
        var path = proof
        if oldSize & (oldSize - 1) == 0 { path.insert(oldRoot, at: 0) }
        var fn = oldSize - 1
        var sn = newSize - 1
        while fn & 1 == 1 {
            fn >>= 1
            sn >>= 1
        }
        var oldResult = path[0]
        var newResult = path[0]
        for node in path.dropFirst() {
            guard sn > 0 else { return false }
            if fn & 1 == 1 || fn == sn {
                oldResult = MerkleHashing.nodeHash(node, oldResult)
                newResult = MerkleHashing.nodeHash(node, newResult)
                climbRightEdge(&fn, &sn)
            } else {
                newResult = MerkleHashing.nodeHash(newResult, node)
            }
            fn >>= 1
            sn >>= 1
        }
        return sn == 0 && oldResult == oldRoot && newResult == newRoot
    }

    /// On the right edge of a subtree (fn even, fn == sn), skips the levels where the node has
    /// no right sibling: both positions move up until fn is a right child or the root.
    private static func climbRightEdge(_ fn: inout Int, _ sn: inout Int) {
        while fn & 1 == 0 && fn != 0 {
            fn >>= 1
            sn >>= 1
        }
    }
}
