import Foundation
import Testing

@testable import Audit

@Suite("Checkpoints and signed notes")
struct CheckpointTests {
    let tree = Reference.tree

    func checkpoint(_ size: Int) throws -> Checkpoint {
        Checkpoint(origin: "adal.test/audit/astana", size: size, root: try tree.root(size: size))
    }

    @Test("a signed checkpoint verifies with the published key and reads back")
    func signAndVerify() throws {
        let signer = try NoteSigner.generate(name: "adal.test")
        let note = try CheckpointSigner(signer: signer).sign(try checkpoint(5), previous: nil, proof: [])
        #expect(note.hasPrefix("adal.test/audit/astana\n5\n"))
        #expect(note.contains("\n\n\u{2014} adal.test "))
        let verifier = try NoteVerifier(verifierKey: signer.verifierKey)
        let text = try verifier.verify(note)
        #expect(try Checkpoint(text: text) == checkpoint(5))
    }

    @Test("the reference tree's root is written in base64 on the third line")
    func textForm() throws {
        #expect(
            try checkpoint(8).text
                == "adal.test/audit/astana\n8\nXcnaeacGWamtVZy3Ad7ZoqudgjqtL0lgz+Nw7/RgQyg=\n"
        )
    }

    @Test("a changed note, another key, or a mangled signature is refused")
    func tampering() throws {
        let signer = try NoteSigner.generate(name: "adal.test")
        let note = try signer.sign(try checkpoint(5).text)
        let verifier = try NoteVerifier(verifierKey: signer.verifierKey)
        #expect(throws: SignedNoteError.badSignature) {
            try verifier.verify(note.replacingOccurrences(of: "\n5\n", with: "\n6\n"))
        }
        let other = try NoteVerifier(verifierKey: try NoteSigner.generate(name: "adal.test").verifierKey)
        #expect(throws: SignedNoteError.unknownKey) { try other.verify(note) }
        #expect(throws: SignedNoteError.self) { try verifier.verify(String(note.dropLast(5)) + "AAAA\n") }
        #expect(throws: SignedNoteError.self) { try verifier.verify("no signature at all\n") }
    }

    @Test("the signer key round-trips through its text form")
    func keyText() throws {
        let signer = try NoteSigner.generate(name: "adal.test")
        let again = try NoteSigner(signerKey: signer.signerKey)
        #expect(again.verifierKey == signer.verifierKey)
        #expect(signer.signerKey.hasPrefix("PRIVATE+KEY+adal.test+"))
        #expect(throws: SignedNoteError.self) { try NoteSigner(signerKey: "PRIVATE+KEY+x+00000000+AAAA") }
        #expect(throws: SignedNoteError.self) {
            try NoteVerifier(verifierKey: "adal.test+00000000+" + signer.verifierKey.split(separator: "+")[2])
        }
    }

    @Test("the signer extends its last checkpoint and refuses a fork, a shrink or a new origin")
    func refusesForks() throws {
        let signer = CheckpointSigner(signer: try NoteSigner.generate(name: "adal.test"))
        let old = try checkpoint(3)
        _ = try signer.sign(try checkpoint(8), previous: old, proof: try tree.consistencyProof(oldSize: 3, newSize: 8))
        // A database rewritten under the signer: another tree of 8 leaves.
        var rewritten = tree.leaves
        rewritten[1] = MerkleHashing.leafHash([0xff])
        let forked = MerkleTree(leaves: rewritten)
        let forkedHead = Checkpoint(origin: old.origin, size: 8, root: try forked.root())
        #expect(throws: CheckpointError.self) {
            try signer.sign(forkedHead, previous: old, proof: try forked.consistencyProof(oldSize: 3, newSize: 8))
        }
        #expect(throws: CheckpointError.self) { try signer.sign(try checkpoint(2), previous: old, proof: []) }
        var moved = try checkpoint(8)
        moved.origin = "elsewhere/audit/astana"
        #expect(throws: CheckpointError.self) {
            try signer.sign(moved, previous: old, proof: try tree.consistencyProof(oldSize: 3, newSize: 8))
        }
    }
}
