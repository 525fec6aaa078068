import Audit
import Foundation
import Hummingbird
import HummingbirdTesting
import PostgresNIO
import Storage
import Testing

@testable import Web

@Suite("The public audit log over HTTP")
struct AuditHTTPTests {
    /// Queues and integrates `count` steps for Astana.
    static func append(_ count: Int, from start: Int, fixture: WebFixture) async throws {
        let tenant = fixture.astana.id
        try await fixture.databases.application.withTenant(tenant) { connection in
            for number in start..<(start + count) {
                let entry = AuditEntry(
                    tenantID: tenant,
                    service: "meal-payments",
                    instanceID: UUID(),
                    sequence: 1,
                    event: "charge",
                    actorRole: "canteen_till",
                    time: Date(timeIntervalSince1970: 1_790_000_000 + Double(number)),
                    amounts: [(label: "price", tiyn: Int64(80_000 + number))],
                    inputHash: Array(repeating: 7, count: 32),
                    subjects: [],
                    previousLeafIndex: AuditEntry.noPreviousLeaf
                )
                try await PostgresAuditLog.queue(
                    entry,
                    tenantID: tenant,
                    on: connection,
                    logger: fixture.databases.application.logger
                )
            }
        }
        while try await fixture.dependencies.auditLog.integrate(tenantID: tenant) > 0 {}
    }

    static func checkpoint(_ client: any TestClientProtocol) async throws -> Checkpoint {
        let key = try await client.execute(uri: "/audit/astana/key", method: .get, headers: [:], body: nil).text
        let note = try await client.execute(uri: "/audit/astana/checkpoint", method: .get, headers: [:], body: nil)
        #expect(note.status == .ok)
        return try Checkpoint(text: try NoteVerifier(verifierKey: key).verify(note.text))
    }

    static func hashes(_ json: [String: Any]) -> [TreeHash] {
        (json["proof"] as? [String] ?? []).compactMap { TreeHash(hex: $0) }
    }

    @Test("an outsider checks every leaf against the signed checkpoint, and a later checkpoint against the first")
    func verifyFromOutside() async throws {
        try await WebFixture.with { fixture, client in
            try await Self.append(5, from: 0, fixture: fixture)
            let first = try await Self.checkpoint(client)
            #expect(first.size == 5)
            #expect(first.origin == "adal.test/audit/astana")
            for index in 0..<5 {
                let leaf = try await client.execute(
                    uri: "/audit/astana/leaves/\(index)",
                    method: .get,
                    headers: [:],
                    body: nil
                ).json()
                let entry = try #require(Data(base64Encoded: leaf["entry"] as? String ?? ""))
                let leafHash = MerkleHashing.leafHash(Array(entry))
                #expect(leafHash.hex == leaf["leafHash"] as? String)
                #expect(try AuditEntry(decoding: Array(entry)).event == "charge")
                let proof = try await client.execute(
                    uri: "/audit/astana/proof/inclusion?index=\(index)&size=5",
                    method: .get,
                    headers: [:],
                    body: nil
                ).json()
                #expect(
                    ProofVerifier.verifyInclusion(
                        index: index,
                        size: 5,
                        leafHash: leafHash,
                        proof: Self.hashes(proof),
                        root: first.root
                    )
                )
                // The same proof asked by leaf hash names the index it found.
                let byHash = try await client.execute(
                    uri: "/audit/astana/proof/inclusion?hash=\(leafHash.hex.uppercased())&size=5",
                    method: .get,
                    headers: [:],
                    body: nil
                ).json()
                #expect(byHash["index"] as? Int == index)
                #expect(Self.hashes(byHash) == Self.hashes(proof))
            }
            try await Self.append(6, from: 5, fixture: fixture)
            let second = try await Self.checkpoint(client)
            #expect(second.size == 11)
            let consistency = try await client.execute(
                uri: "/audit/astana/proof/consistency?from=5&to=11",
                method: .get,
                headers: [:],
                body: nil
            ).json()
            #expect(
                ProofVerifier.verifyConsistency(
                    oldSize: 5,
                    newSize: 11,
                    oldRoot: first.root,
                    newRoot: second.root,
                    proof: Self.hashes(consistency)
                )
            )
        }
    }

    @Test("malformed or out-of-range proof requests get 400 with the reason; a missing leaf 404")
    func badRequests() async throws {
        try await WebFixture.with { fixture, client in
            try await Self.append(3, from: 0, fixture: fixture)
            for uri in [
                "/audit/astana/proof/inclusion?index=3&size=3", "/audit/astana/proof/inclusion?index=0&size=9",
                "/audit/astana/proof/inclusion?index=-1&size=3", "/audit/astana/proof/inclusion?index=x",
                "/audit/astana/proof/consistency?from=4&to=3",
                "/audit/astana/proof/inclusion?hash=abc&size=3",
                "/audit/astana/proof/inclusion?hash=\(String(repeating: "0", count: 64))&size=4",
                "/audit/astana/proof/inclusion?hash=\(String(repeating: "0", count: 64))&index=0&size=3",
                "/audit/astana/proof/consistency?from=1&to=99999999999999999999",
            ] {
                let response = try await client.execute(uri: uri, method: .get, headers: [:], body: nil)
                #expect(response.status == .badRequest, "\(uri)")
                #expect(response.headers[.contentType] == "application/problem+json")
                #expect((try response.json()["detail"] as? String)?.isEmpty == false, "\(uri)")
            }
            let missing = try await client.execute(uri: "/audit/astana/leaves/3", method: .get, headers: [:], body: nil)
            #expect(missing.status == .notFound)
            let unknownHash = try await client.execute(
                uri: "/audit/astana/proof/inclusion?hash=\(String(repeating: "ab", count: 32))&size=3",
                method: .get,
                headers: [:],
                body: nil
            )
            #expect(unknownHash.status == .notFound)
            let unknownCity = try await client.execute(
                uri: "/audit/atlantis/checkpoint",
                method: .get,
                headers: [:],
                body: nil
            )
            #expect(unknownCity.status == .notFound)
        }
    }

    @Test("after a wholesale rewrite of the stored tree the notary refuses to sign")
    func rewriteRefused() async throws {
        try await WebFixture.with { fixture, client in
            try await Self.append(4, from: 0, fixture: fixture)
            _ = try await Self.checkpoint(client)
            // Someone with the owner's rights replaces the history and rebuilds a tree of 6 leaves.
            try await fixture.databases.owner.withTenant(fixture.astana.id) { connection in
                for table in ["audit_leaves", "audit_nodes", "audit_trees"] {
                    try await connection.query(
                        PostgresQuery(unsafeSQL: "DELETE FROM \(table)"),
                        logger: fixture.databases.owner.logger
                    )
                }
            }
            try await Self.append(6, from: 100, fixture: fixture)
            let response = try await client.execute(
                uri: "/audit/astana/checkpoint",
                method: .get,
                headers: [:],
                body: nil
            )
            #expect(response.status == .serviceUnavailable)
        }
    }
}
