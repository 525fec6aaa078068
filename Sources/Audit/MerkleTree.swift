/// Where complete subtrees' hashes come from: level 0 is the leaves, level L index i the
/// subtree over leaves [i·2^L, (i+1)·2^L). An in-memory tree computes them; the stored tree
/// reads them from its table of nodes.
public protocol SubtreeSource {
    func subtree(level: Int, index: Int) throws -> TreeHash
}

/// The tree-head and proof algorithms of RFC 6962 §2.1 (MTH, PATH, PROOF) over any source of
/// complete subtrees. Each range the recursion needs is either a complete, aligned subtree (one
/// read) or split again, so a proof reads O(log n) subtrees.
public struct MerkleAlgorithms<Source: SubtreeSource> {
    public let source: Source
    public let size: Int

    public init(source: Source, size: Int) {
        self.source = source
        self.size = size
    }

    /// MTH of the first `size` leaves.
    public func root(size: Int) throws -> TreeHash {
        guard (0...self.size).contains(size) else { throw MerkleError.sizeOutOfRange(size: size, treeSize: self.size) }
        return size == 0 ? MerkleHashing.emptyRoot : try head(0, size)
    }

    /// PATH(index, D[size]).
    public func inclusionProof(index: Int, size: Int) throws -> [TreeHash] {
        guard size >= 1, size <= self.size else {
            throw MerkleError.noSuchLeaves(size: size, treeSize: self.size)
        }
        guard (0..<size).contains(index) else { throw MerkleError.indexOutOfRange(index: index, treeSize: size) }
        var proof: [TreeHash] = []
        try path(index, 0, size, into: &proof)
        return proof
    }

    /// PROOF(oldSize, D[newSize]); empty when the sizes are equal or the old tree is empty.
    public func consistencyProof(oldSize: Int, newSize: Int) throws -> [TreeHash] {
        guard (0...size).contains(newSize) else { throw MerkleError.sizeOutOfRange(size: newSize, treeSize: size) }
        guard (0...newSize).contains(oldSize) else {
            throw MerkleError.sizeOutOfRange(size: oldSize, treeSize: newSize)
        }
        guard oldSize > 0 && oldSize < newSize else { return [] }
        var proof: [TreeHash] = []
        try subproof(oldSize, 0, newSize, complete: true, into: &proof)
        return proof
    }

    /// MTH of leaves[start ..< start + count], count ≥ 1.
    private func head(_ start: Int, _ count: Int) throws -> TreeHash {
        if count & (count - 1) == 0 && start % count == 0 {
            return try source.subtree(level: count.trailingZeroBitCount, index: start / count)
        }
        let k = MerkleHashing.split(count)
        return MerkleHashing.nodeHash(try head(start, k), try head(start + k, count - k))
    }

    private func path(_ index: Int, _ start: Int, _ count: Int, into proof: inout [TreeHash]) throws {
        guard count > 1 else { return }
        let k = MerkleHashing.split(count)
        if index < k {
            try path(index, start, k, into: &proof)
            proof.append(try head(start + k, count - k))
        } else {
            try path(index - k, start + k, count - k, into: &proof)
            proof.append(try head(start, k))
        }
    }

    private func subproof(_ m: Int, _ start: Int, _ count: Int, complete: Bool, into proof: inout [TreeHash]) throws {
        if m == count {
            if !complete { proof.append(try head(start, count)) }
            return
        }
        let k = MerkleHashing.split(count)
        if m <= k {
            try subproof(m, start, k, complete: complete, into: &proof)
            proof.append(try head(start + k, count - k))
        } else {
            try subproof(m - k, start + k, count - k, complete: false, into: &proof)
            proof.append(try head(start, k))
        }
    }
}

/// Records which subtrees an algorithm asks for, answering with placeholders: run once to learn
/// what to read from storage in one query, then again on the real values.
public final class SubtreeRecorder: SubtreeSource {
    public private(set) var requested: [(level: Int, index: Int)] = []

    public init() {}

    public func subtree(level: Int, index: Int) throws -> TreeHash {
        requested.append((level, index))
        return MerkleHashing.emptyRoot
    }
}

/// Subtrees already read, by level and index. Made with a recorder, it reads nothing and
/// notes what it is asked for instead.
public struct SubtreeTable: SubtreeSource {
    public var hashes: [Int: [Int: TreeHash]] = [:]
    let recorder: SubtreeRecorder?

    public init(recordingInto recorder: SubtreeRecorder? = nil) {
        self.recorder = recorder
    }

    public subscript(level: Int, index: Int) -> TreeHash? {
        get { hashes[level]?[index] }
        set { hashes[level, default: [:]][index] = newValue }
    }

    public func subtree(level: Int, index: Int) throws -> TreeHash {
        if let recorder { return try recorder.subtree(level: level, index: index) }
        guard let hash = hashes[level]?[index] else { throw MerkleError.missingNode(level: level, index: index) }
        return hash
    }
}

/// A Merkle tree over leaf hashes held in memory: the reference the stored, incremental tree
/// is checked against, and what an auditor's verifier recomputes.
public struct MerkleTree: Sendable, SubtreeSource {
    public private(set) var leaves: [TreeHash]

    public init(leaves: [TreeHash] = []) {
        self.leaves = leaves
    }

    public var size: Int { leaves.count }

    public mutating func append(_ leaf: TreeHash) {
        leaves.append(leaf)
    }

    public func subtree(level: Int, index: Int) -> TreeHash {
        if level == 0 { return leaves[index] }
        return MerkleHashing.nodeHash(
            subtree(level: level - 1, index: index * 2),
            subtree(level: level - 1, index: index * 2 + 1)
        )
    }

    var algorithms: MerkleAlgorithms<MerkleTree> { MerkleAlgorithms(source: self, size: leaves.count) }

    public func root(size: Int? = nil) throws(MerkleError) -> TreeHash {
        try typed { try algorithms.root(size: size ?? leaves.count) }
    }

    public func inclusionProof(index: Int, size: Int) throws(MerkleError) -> [TreeHash] {
        try typed { try algorithms.inclusionProof(index: index, size: size) }
    }

    public func consistencyProof(oldSize: Int, newSize: Int) throws(MerkleError) -> [TreeHash] {
        try typed { try algorithms.consistencyProof(oldSize: oldSize, newSize: newSize) }
    }

    private func typed<Result>(_ body: () throws -> Result) throws(MerkleError) -> Result {
        do {
            return try body()
        } catch let error as MerkleError {
            throw error
        } catch {
            preconditionFailure("an in-memory tree raises only MerkleError")
        }
    }
}

/// A tree or proof request that cannot be answered, with the reason.
public enum MerkleError: Error, Equatable, CustomStringConvertible {
    case sizeOutOfRange(size: Int, treeSize: Int)
    case indexOutOfRange(index: Int, treeSize: Int)
    case missingNode(level: Int, index: Int)
    /// An inclusion proof asked at a size the log does not have (or of an empty log).
    case noSuchLeaves(size: Int, treeSize: Int)

    public var description: String {
        switch self {
        case .sizeOutOfRange(let size, let treeSize): "tree size \(size) is outside 0…\(treeSize)"
        case .indexOutOfRange(let index, let treeSize): "leaf index \(index) is outside a tree of \(treeSize) leaves"
        case .missingNode(let level, let index): "the stored tree lacks the node at level \(level), index \(index)"
        case .noSuchLeaves(_, let treeSize) where treeSize == 0: "the log is empty: there is no leaf to prove yet"
        case .noSuchLeaves(let size, let treeSize):
            "an inclusion proof needs a tree size from 1 to \(treeSize); \(size) was asked"
        }
    }
}
