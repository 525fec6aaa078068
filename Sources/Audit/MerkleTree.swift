/// A Merkle tree over leaf hashes held in memory, computing heads and proofs exactly as RFC
/// 6962 §2.1 defines them (MTH, PATH, PROOF). It is the reference the stored, incremental
/// tree is checked against, and what an auditor's verifier recomputes.
public struct MerkleTree: Sendable {
    public private(set) var leaves: [TreeHash]

    public init(leaves: [TreeHash] = []) {
        self.leaves = leaves
    }

    public var size: Int { leaves.count }

    public mutating func append(_ leaf: TreeHash) {
        leaves.append(leaf)
    }

    /// The tree head of the first `size` leaves (MTH(D[size])).
    public func root(size: Int? = nil) throws(MerkleError) -> TreeHash {
        let size = size ?? leaves.count
        guard (0...leaves.count).contains(size) else { throw .sizeOutOfRange(size: size, treeSize: leaves.count) }
        return size == 0 ? MerkleHashing.emptyRoot : head(0, size)
    }

    /// The audit path of leaf `index` in the tree of the first `size` leaves (PATH(m, D[n])).
    public func inclusionProof(index: Int, size: Int) throws(MerkleError) -> [TreeHash] {
        guard (1...leaves.count).contains(size) else { throw .sizeOutOfRange(size: size, treeSize: leaves.count) }
        guard (0..<size).contains(index) else { throw .indexOutOfRange(index: index, treeSize: size) }
        var proof: [TreeHash] = []
        path(index, 0, size, into: &proof)
        return proof
    }

    /// The proof that the tree of `oldSize` leaves is a prefix of the tree of `newSize` leaves
    /// (PROOF(m, D[n])). Empty when the sizes are equal or the old tree is empty.
    public func consistencyProof(oldSize: Int, newSize: Int) throws(MerkleError) -> [TreeHash] {
        guard (0...leaves.count).contains(newSize) else {
            throw .sizeOutOfRange(size: newSize, treeSize: leaves.count)
        }
        guard (0...newSize).contains(oldSize) else { throw .sizeOutOfRange(size: oldSize, treeSize: newSize) }
        guard oldSize > 0 && oldSize < newSize else { return [] }
        var proof: [TreeHash] = []
        subproof(oldSize, 0, newSize, complete: true, into: &proof)
        return proof
    }

    /// MTH of leaves[start ..< start + count], count ≥ 1.
    private func head(_ start: Int, _ count: Int) -> TreeHash {
        if count == 1 { return leaves[start] }
        let k = MerkleHashing.split(count)
        return MerkleHashing.nodeHash(head(start, k), head(start + k, count - k))
    }

    private func path(_ index: Int, _ start: Int, _ count: Int, into proof: inout [TreeHash]) {
        guard count > 1 else { return }
        let k = MerkleHashing.split(count)
        if index < k {
            path(index, start, k, into: &proof)
            proof.append(head(start + k, count - k))
        } else {
            path(index - k, start + k, count - k, into: &proof)
            proof.append(head(start, k))
        }
    }

    private func subproof(_ m: Int, _ start: Int, _ count: Int, complete: Bool, into proof: inout [TreeHash]) {
        if m == count {
            if !complete { proof.append(head(start, count)) }
            return
        }
        let k = MerkleHashing.split(count)
        if m <= k {
            subproof(m, start, k, complete: complete, into: &proof)
            proof.append(head(start + k, count - k))
        } else {
            subproof(m - k, start + k, count - k, complete: false, into: &proof)
            proof.append(head(start, k))
        }
    }
}

/// A proof request that cannot be answered, with the reason.
public enum MerkleError: Error, Equatable, CustomStringConvertible {
    case sizeOutOfRange(size: Int, treeSize: Int)
    case indexOutOfRange(index: Int, treeSize: Int)

    public var description: String {
        switch self {
        case .sizeOutOfRange(let size, let treeSize): "tree size \(size) is outside 0…\(treeSize)"
        case .indexOutOfRange(let index, let treeSize): "leaf index \(index) is outside a tree of \(treeSize) leaves"
        }
    }
}
