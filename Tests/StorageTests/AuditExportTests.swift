import Audit
import Core
import Foundation
import TestSupport
import Testing

@testable import Storage

@Suite("Exported audit logs are checked offline")
struct AuditExportTests {
    /// Exports a city's log of `size` leaves into a fresh folder and hands the folder and the key to `body`.
    func exported(size: Int, _ body: @escaping @Sendable (URL, String) throws -> Void) async throws {
        try await TestDatabases.with { databases in
            let (astana, _) = try await databases.createCitiesWithoutPasswords()
            let log = try await databases.fillAuditLog(tenant: astana.id, count: size)
            let folder = URL(fileURLWithPath: NSTemporaryDirectory() + "/adal-export-\(UUID().uuidString)")
            defer { try? FileManager.default.removeItem(at: folder) }
            let notary = AuditNotary(
                log: log,
                signer: CheckpointSigner(signer: try NoteSigner.generate(name: "adal.test")),
                stateDirectory: folder.path + "-state",
                originHost: "adal.test"
            )
            defer { try? FileManager.default.removeItem(atPath: folder.path + "-state") }
            #expect(try await AuditExport(log: log, notary: notary).write(tenant: astana, to: folder) == size)
            try body(folder, notary.verifierKey)
        }
    }

    @Test("an untouched export verifies against the published key")
    func verifies() async throws {
        try await exported(size: 13) { folder, key in
            let checkpoint = try AuditBundle.verify(directory: folder, verifierKey: key)
            #expect(checkpoint.size == 13)
            #expect(checkpoint.origin == "adal.test/audit/astana")
        }
    }

    @Test("a changed leaf is named by its line, a dropped one by the count, another key by the signature")
    func tampered() async throws {
        try await exported(size: 9) { folder, key in
            let leaves = folder.appendingPathComponent(AuditBundle.leavesFile)
            let original = try String(contentsOf: leaves, encoding: .utf8)
            var lines = original.split(separator: "\n").map(String.init)

            var bytes = Array(Data(base64Encoded: lines[4])!)
            bytes[40] ^= 1
            lines[4] = Data(bytes).base64EncodedString()
            try (lines.joined(separator: "\n") + "\n").write(to: leaves, atomically: true, encoding: .utf8)
            #expect(throws: AuditBundleError.self) { try AuditBundle.verify(directory: folder, verifierKey: key) }

            lines = original.split(separator: "\n").map(String.init)
            lines[2] = "not base64!"
            try (lines.joined(separator: "\n") + "\n").write(to: leaves, atomically: true, encoding: .utf8)
            #expect(throws: AuditBundleError(file: "leaves", line: 3, reason: "not base64")) {
                try AuditBundle.verify(directory: folder, verifierKey: key)
            }

            lines = original.split(separator: "\n").map(String.init)
            try (lines.dropLast().joined(separator: "\n") + "\n").write(to: leaves, atomically: true, encoding: .utf8)
            #expect(throws: AuditBundleError(file: "leaves", line: nil, reason: "8 leaves, but the checkpoint is of 9"))
            {
                try AuditBundle.verify(directory: folder, verifierKey: key)
            }

            try original.write(to: leaves, atomically: true, encoding: .utf8)
            let stranger = try NoteSigner.generate(name: "adal.test").verifierKey
            #expect { try AuditBundle.verify(directory: folder, verifierKey: stranger) } throws: { error in
                (error as? AuditBundleError)?.file == "checkpoint"
            }
            #expect(try AuditBundle.verify(directory: folder, verifierKey: key).size == 9)
        }
    }
}
