import Testing

@testable import Audit

/// The eight entries of the Certificate Transparency reference tests and the published tree
/// heads for sizes 0 to 8, with proofs from the same suite.
enum Reference {
    static let entries: [[UInt8]] = [
        [], [0x00], [0x10], [0x20, 0x21], [0x30, 0x31], [0x40, 0x41, 0x42, 0x43],
        [0x50, 0x51, 0x52, 0x53, 0x54, 0x55, 0x56, 0x57],
        [0x60, 0x61, 0x62, 0x63, 0x64, 0x65, 0x66, 0x67, 0x68, 0x69, 0x6a, 0x6b, 0x6c, 0x6d, 0x6e, 0x6f],
    ]

    static let roots = [
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
        "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
        "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
        "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
        "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
        "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
        "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
    ].map { TreeHash(hex: $0)! }

    static let tree = MerkleTree(leaves: entries.map(MerkleHashing.leafHash))

    /// (leaf index, tree size, audit path)
    static let inclusion: [(Int, Int, [String])] = [
        (
            0, 8,
            [
                "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
                "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
                "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
            ]
        ),
        (
            5, 8,
            [
                "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
                "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
                "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
            ]
        ),
        (2, 3, ["fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"]),
        (0, 1, []),
    ]

    /// (old size, new size, proof)
    static let consistency: [(Int, Int, [String])] = [
        (1, 1, []),
        (
            1, 8,
            [
                "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
                "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
                "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
            ]
        ),
        (
            6, 8,
            [
                "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
                "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
                "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
            ]
        ),
        (
            2, 5,
            [
                "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
                "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
            ]
        ),
    ]
}

@Suite("RFC 6962 reference vectors")
struct MerkleReferenceTests {
    @Test("tree heads for sizes 0 to 8 match the published values")
    func roots() throws {
        for size in 0...8 {
            #expect(try Reference.tree.root(size: size) == Reference.roots[size], "size \(size)")
        }
    }

    @Test("inclusion proofs match the published audit paths and verify")
    func inclusion() throws {
        for (index, size, expected) in Reference.inclusion {
            let proof = try Reference.tree.inclusionProof(index: index, size: size)
            #expect(proof.map(\.hex) == expected, "leaf \(index) of \(size)")
            #expect(
                ProofVerifier.verifyInclusion(
                    index: index,
                    size: size,
                    leafHash: Reference.tree.leaves[index],
                    proof: proof,
                    root: Reference.roots[size]
                )
            )
        }
    }

    @Test("consistency proofs match the published values and verify")
    func consistency() throws {
        for (oldSize, newSize, expected) in Reference.consistency {
            let proof = try Reference.tree.consistencyProof(oldSize: oldSize, newSize: newSize)
            #expect(proof.map(\.hex) == expected, "\(oldSize) → \(newSize)")
            #expect(
                ProofVerifier.verifyConsistency(
                    oldSize: oldSize,
                    newSize: newSize,
                    oldRoot: Reference.roots[oldSize],
                    newRoot: Reference.roots[newSize],
                    proof: proof
                )
            )
        }
    }

    @Test("requests outside the tree are refused with the reason")
    func outOfRange() {
        #expect(throws: MerkleError.indexOutOfRange(index: 8, treeSize: 8)) {
            try Reference.tree.inclusionProof(index: 8, size: 8)
        }
        #expect(throws: MerkleError.noSuchLeaves(size: 9, treeSize: 8)) {
            try Reference.tree.inclusionProof(index: 0, size: 9)
        }
        #expect(throws: MerkleError.noSuchLeaves(size: 0, treeSize: 0)) {
            try MerkleTree().inclusionProof(index: 0, size: 0)
        }
        #expect(
            MerkleError.noSuchLeaves(size: 0, treeSize: 0).description
                == "the log is empty: there is no leaf to prove yet"
        )
        #expect(throws: MerkleError.sizeOutOfRange(size: 9, treeSize: 8)) {
            try Reference.tree.root(size: 9)
        }
        #expect(throws: MerkleError.sizeOutOfRange(size: 5, treeSize: 4)) {
            try Reference.tree.consistencyProof(oldSize: 5, newSize: 4)
        }
        #expect(TreeHash(hex: "zz") == nil)
        #expect(TreeHash(hex: String(repeating: "g", count: 64)) == nil)
    }
}
