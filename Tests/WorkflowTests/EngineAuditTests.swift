import Audit
import Crypto
import Foundation
import PostgresNIO
import Storage
import Testing
import Workflow

@Suite("Workflow steps in the audit log")
struct EngineAuditTests {
    @Test("each step becomes one leaf, chained to the instance's previous leaf, with no identifier in clear")
    func chainedLeaves() async throws {
        try await EngineFixture.with { fixture in
            let log = PostgresAuditLog(database: fixture.databases.application)
            let first = try await fixture.startRequest().instanceID
            let second = try await fixture.startRequest().instanceID
            while try await log.integrate(tenantID: fixture.astana.id) > 0 {}
            for (id, event) in [(first, "approve"), (second, "reject"), (first, "deliver")] {
                var input: [String: InputValue] = [:]
                if event == "reject" { input["reason"] = .string("duplicate") }
                if event == "deliver" {
                    input["receipt"] = .object([
                        "name": .string("receipt.pdf"), "media_type": .string("application/pdf"),
                        "size": .integer(1200),
                        "sha256": .string(String(repeating: "ab", count: 32)),
                    ])
                }
                let actor = event == "deliver" ? fixture.schoolAdmin : fixture.officer
                try await fixture.fire(event, on: id, as: actor, input: input)
            }
            while try await log.integrate(tenantID: fixture.astana.id) > 0 {}

            var leaves: [AuditEntry] = []
            for index in 0..<5 {
                let leaf = try #require(try await log.leaf(index: index, tenantID: fixture.astana.id))
                #expect(!leaf.entry.containsSubsequence(Array("940140000385".utf8)))
                leaves.append(try AuditEntry(decoding: leaf.entry))
            }
            #expect(leaves.map(\.event) == ["start", "start", "approve", "reject", "deliver"])
            #expect(leaves.map(\.previousLeafIndex) == [AuditEntry.noPreviousLeaf, AuditEntry.noPreviousLeaf, 0, 1, 2])
            #expect(leaves.map(\.sequence) == [1, 1, 2, 2, 3])
            #expect(leaves[0].amounts.map(\.tiyn) == [120_000_00])
            #expect(leaves[0].subjects.count == 1)
            #expect(leaves[0].subjects == leaves[1].subjects)

            // The input hash is the SHA-256 of the stored input's canonical JSON.
            let stored = try await fixture.databases.application.withTenant(fixture.astana.id) { connection in
                var text = ""
                for try await input in try await connection.query(
                    "SELECT input::text FROM workflow_steps WHERE instance_id = \(first) AND sequence = 1",
                    logger: fixture.databases.application.logger
                ).decode(String.self) { text = input }
                return text
            }
            let canonical = try JSONDecoder().decode(InputValue.self, from: Data(stored.utf8)).canonicalJSON
            #expect(Array(SHA256.hash(data: Array(canonical.utf8))) == leaves[0].inputHash)
        }
    }

    @Test("the verifier accepts the engine's chained leaves and finds a leaf that names the wrong predecessor")
    func chainVerified() async throws {
        try await EngineFixture.with { fixture in
            let log = PostgresAuditLog(database: fixture.databases.application)
            let first = try await fixture.startRequest().instanceID
            let second = try await fixture.startRequest().instanceID
            try await fixture.fire("approve", on: first, as: fixture.officer)
            try await fixture.fire("withdraw", on: second, as: fixture.schoolAdmin)
            while try await log.integrate(tenantID: fixture.astana.id) > 0 {}
            let verifier = AuditVerifier(database: fixture.databases.application)
            #expect(try await verifier.verify(tenantID: fixture.astana.id).size == 4)
            // Leaf 3 (second's withdraw) should name leaf 1; make it name leaf 0, hash and all.
            try await fixture.execute(
                """
                UPDATE audit_leaves SET entry = set_byte(entry, length(entry) - 1, 0),
                    leaf_hash = sha256('\\x00'::bytea || set_byte(entry, length(entry) - 1, 0))
                WHERE leaf_index = 3
                """
            )
            await #expect {
                try await verifier.verify(tenantID: fixture.astana.id)
            } throws: { error in
                (error as? AuditTamper)?.index == 3 && (error as? AuditTamper)?.reason.contains("previous step") == true
            }
        }
    }

    @Test("one identifier hashes differently in two cities")
    func perTenantKeys() async throws {
        try await EngineFixture.with { fixture in
            _ = try await fixture.startRequest()
            _ = try await fixture.engine.start(
                tenantID: fixture.shymkent.id,
                service: "equipment-request",
                actor: fixture.schoolAdmin,
                input: EngineFixture.validStart
            )
            var subjects: [[UInt8]] = []
            for tenant in [fixture.astana.id, fixture.shymkent.id] {
                let log = PostgresAuditLog(database: fixture.databases.application)
                while try await log.integrate(tenantID: tenant) > 0 {}
                let leaf = try #require(try await log.leaf(index: 0, tenantID: tenant))
                subjects += try AuditEntry(decoding: leaf.entry).subjects
            }
            #expect(subjects.count == 2)
            #expect(subjects[0] != subjects[1])
        }
    }
}

extension Array where Element == UInt8 {
    func containsSubsequence(_ needle: [UInt8]) -> Bool {
        guard needle.count <= count else { return false }
        return (0...(count - needle.count)).contains { Array(self[$0..<($0 + needle.count)]) == needle }
    }
}
