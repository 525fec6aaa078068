import TestSupport
import Testing

@testable import Audit

@Suite("Merkle proofs on random trees")
struct MerklePropertyTests {
    static func randomTree(size: Int, seed: UInt64) -> MerkleTree {
        var generator = SplitMix64(seed: seed)
        // Each entry starts with its index, so no two leaves are equal by chance.
        let leaves = (0..<size).map { index in
            let noise = (0..<Int.random(in: 0...24, using: &generator)).map { _ in
                UInt8.random(in: 0...255, using: &generator)
            }
            return MerkleHashing.leafHash([UInt8(index & 0xff), UInt8(index >> 8)] + noise)
        }
        return MerkleTree(leaves: leaves)
    }

    /// Every way of spoiling a proof: each element with one bit flipped, one element dropped,
    /// one element added, elements swapped.
    static func mutations(of proof: [TreeHash]) -> [[TreeHash]] {
        var spoiled: [[TreeHash]] = []
        for index in proof.indices {
            var flipped = proof
            var bytes = flipped[index].bytes
            bytes[index % 32] ^= 0x01
            flipped[index] = TreeHash(bytes: bytes)!
            spoiled.append(flipped)
            var dropped = proof
            dropped.remove(at: index)
            spoiled.append(dropped)
        }
        spoiled.append(proof + [MerkleHashing.emptyRoot])
        if proof.count >= 2 { spoiled.append([proof[1], proof[0]] + proof.dropFirst(2)) }
        return spoiled
    }

    @Test(
        "every leaf's inclusion proof verifies in every tree size, and every spoiled one fails",
        arguments: [1, 2, 3, 5, 8, 13, 31, 33]
    )
    func inclusion(size: Int) throws {
        let tree = Self.randomTree(size: size, seed: UInt64(size))
        let root = try tree.root()
        for index in 0..<size {
            let proof = try tree.inclusionProof(index: index, size: size)
            let leaf = tree.leaves[index]
            #expect(ProofVerifier.verifyInclusion(index: index, size: size, leafHash: leaf, proof: proof, root: root))
            for spoiled in Self.mutations(of: proof) {
                #expect(
                    !ProofVerifier.verifyInclusion(index: index, size: size, leafHash: leaf, proof: spoiled, root: root)
                )
            }
            // The right proof for the wrong leaf or index fails too. (A wrong size is caught by the
            // signed checkpoint, which binds the size to the root.)
            let other = tree.leaves[(index + 1) % size]
            if other != leaf {
                #expect(
                    !ProofVerifier.verifyInclusion(index: index, size: size, leafHash: other, proof: proof, root: root)
                )
            }
            if size > 1 {
                #expect(
                    !ProofVerifier.verifyInclusion(
                        index: (index + 1) % size,
                        size: size,
                        leafHash: leaf,
                        proof: proof,
                        root: root
                    )
                )
            }
        }
    }

    @Test("every consistency proof between two sizes verifies, and every spoiled one fails", arguments: [2, 7, 16, 21])
    func consistency(size: Int) throws {
        let tree = Self.randomTree(size: size, seed: UInt64(1000 + size))
        let roots = try (0...size).map { try tree.root(size: $0) }
        for oldSize in 0...size {
            for newSize in oldSize...size {
                let proof = try tree.consistencyProof(oldSize: oldSize, newSize: newSize)
                #expect(
                    ProofVerifier.verifyConsistency(
                        oldSize: oldSize,
                        newSize: newSize,
                        oldRoot: roots[oldSize],
                        newRoot: roots[newSize],
                        proof: proof
                    ),
                    "\(oldSize) → \(newSize)"
                )
                guard oldSize > 0 && oldSize < newSize else { continue }
                for spoiled in Self.mutations(of: proof) {
                    #expect(
                        !ProofVerifier.verifyConsistency(
                            oldSize: oldSize,
                            newSize: newSize,
                            oldRoot: roots[oldSize],
                            newRoot: roots[newSize],
                            proof: spoiled
                        )
                    )
                }
                // A rewritten history (another old root) is caught.
                #expect(
                    !ProofVerifier.verifyConsistency(
                        oldSize: oldSize,
                        newSize: newSize,
                        oldRoot: roots[oldSize - 1],
                        newRoot: roots[newSize],
                        proof: proof
                    )
                )
            }
        }
    }
}

@Suite("The frontier of a growing tree")
struct MerkleFrontierTests {
    @Test("its root after each leaf is the tree head, and it reports exactly the completed subtrees")
    func matchesTree() throws {
        let tree = MerklePropertyTests.randomTree(size: 40, seed: 7)
        var frontier = MerkleFrontier()
        var completed = 0
        for (index, leaf) in tree.leaves.enumerated() {
            frontier.append(leaf) { level, index, hash in
                #expect(hash == tree.subtree(level: level, index: index))
                completed += 1
            }
            #expect(frontier.root == (try tree.root(size: index + 1)))
        }
        // A tree of n leaves has n − popcount(n) complete subtrees above the leaves.
        #expect(completed == 40 - 40.nonzeroBitCount)
    }
}
