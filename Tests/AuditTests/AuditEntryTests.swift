import Foundation
import TestSupport
import Testing

@testable import Audit

@Suite("Audit leaf encoding")
struct AuditEntryTests {
    static let entry = AuditEntry(
        tenantID: UUID(uuidString: "00000000-0000-0000-0000-000000000001")!,
        service: "meal-payments",
        instanceID: UUID(uuidString: "00000000-0000-0000-0000-0000000000aa")!,
        sequence: 1,
        event: "charge",
        actorRole: "canteen_till",
        time: Date(timeIntervalSince1970: 1_790_000_000),
        amounts: [(label: "price", tiyn: 85_000)],
        inputHash: Array(repeating: 0xab, count: 32),
        subjects: [Array(repeating: 0x11, count: 32)],
        previousLeafIndex: AuditEntry.noPreviousLeaf
    )

    @Test("an entry encodes canonically and decodes to itself")
    func roundTrip() throws {
        let bytes = try Self.entry.encoded()
        #expect(bytes.first == 1)
        #expect(bytes.count == 1 + 16 + 14 + 16 + 8 + 7 + 13 + 8 + 1 + 6 + 8 + 32 + 1 + 32 + 8)
        let decoded = try AuditEntry(decoding: bytes)
        #expect(decoded == Self.entry)
        #expect(try decoded.leafHash() == MerkleHashing.leafHash(bytes))
    }

    @Test("fields that do not fit are refused by name")
    func limits() {
        var entry = Self.entry
        entry.event = ""
        #expect(throws: AuditEntryError.invalid(field: "event", reason: "1 to 64 bytes of UTF-8")) {
            try entry.encoded()
        }
        entry = Self.entry
        entry.inputHash = [1, 2, 3]
        #expect(throws: AuditEntryError.self) { try entry.encoded() }
        entry = Self.entry
        entry.amounts = Array(repeating: (label: "x", tiyn: 1), count: 17)
        #expect(throws: AuditEntryError.self) { try entry.encoded() }
    }

    @Test("truncated, extended or foreign bytes are refused")
    func badBytes() throws {
        let bytes = try Self.entry.encoded()
        #expect(throws: AuditEntryError.truncated) { try AuditEntry(decoding: Array(bytes.dropLast())) }
        #expect(throws: AuditEntryError.self) { try AuditEntry(decoding: bytes + [0]) }
        #expect(throws: AuditEntryError.self) { try AuditEntry(decoding: [2] + bytes.dropFirst()) }
    }

    @Test("every mutant that decodes re-encodes to exactly its own bytes (no second spelling of a step)")
    func canonicalUnderMutation() throws {
        let original = try Self.entry.encoded()
        var generator = SplitMix64(seed: 0x6164_616c)
        var decodedMutants = 0
        for _ in 0..<20_000 {
            var bytes = original
            for _ in 0..<Int.random(in: 1...3, using: &generator) {
                let position = Int.random(in: 0..<bytes.count, using: &generator)
                switch Int.random(in: 0..<3, using: &generator) {
                case 0: bytes[position] = UInt8.random(in: 0...255, using: &generator)
                case 1: bytes.remove(at: position)
                default: bytes.insert(UInt8.random(in: 0...255, using: &generator), at: position)
                }
            }
            guard let decoded = try? AuditEntry(decoding: bytes) else { continue }
            decodedMutants += 1
            #expect(try decoded.encoded() == bytes)
        }
        // Most single-byte changes inside fixed-width fields decode: the test must exercise them.
        #expect(decodedMutants > 1_000)
    }
}

@Suite("The documented leaf vector")
struct AuditEntryVectorTests {
    /// The example of docs/audit-log.md: if this changes, the format changed and needs a new version.
    @Test("the example entry encodes to the documented bytes and leaf hash")
    func documentedVector() throws {
        let expected =
            "01000000000000000000000000000000010d6d65616c2d7061796d656e7473000000000000000000000000000000aa"
            + "0000000000000001066368617267650c63616e7465656e5f74696c6c00065bfeda25e000010570726963650000"
            + "000000014c08abababababababababababababababababababababababababababababababab011111111111111111"
            + "111111111111111111111111111111111111111111111111ffffffffffffffff"
        #expect(TreeHash.hex(try AuditEntryTests.entry.encoded()) == expected)
        #expect(
            try AuditEntryTests.entry.leafHash().hex
                == "313f522ead51d3f39952efabfa4b5c59f5ab43da5be9bc760c9bdbc99107c7c7"
        )
    }
}
